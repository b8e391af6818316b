"""Group meetings on an SFU: the node drives a Janus videoroom for its clients.

``janus`` is the HTTP API session (tokens, long poll, event routing);
``controller`` maps meetings and participants onto rooms, publishers and
subscriptions.
"""

from __future__ import annotations

from frontdesk.server.sfu.controller import Leg, LegKey, SfuController
from frontdesk.server.sfu.janus import JanusError, JanusSession, sign_token

__all__ = ["JanusError", "JanusSession", "Leg", "LegKey", "SfuController", "sign_token"]
