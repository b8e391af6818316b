"""Harbor Bank: a sample business that puts Frontdesk meetings in its own web app.

Run it with ``python -m harbor_bank`` from ``examples/`` (see README.md), or let
``frontdesk demo`` start it next to a Frontdesk node.
"""

from __future__ import annotations

from . import brand
from .accounts import Accounts, Customer
from .app import create_app
from .config import BankConfig

__all__ = ["Accounts", "BankConfig", "Customer", "brand", "create_app"]
