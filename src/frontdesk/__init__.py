"""Frontdesk: self-hosted business-to-consumer meetings.

A business's back end vouches for a visitor and obtains join material (a meeting
URL, or a discovery URI plus a short-lived guest token); the visitor's app joins
an agent's meeting as an anonymous guest with chat, audio and video.
"""

from __future__ import annotations

import logging

from frontdesk.errors import FrontdeskError

__all__ = ["FrontdeskError", "__version__"]
__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())
