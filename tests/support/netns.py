"""Media tests must keep every packet on loopback. ``make test`` runs them inside
a network namespace that has only ``lo`` (``scripts/in-netns``); elsewhere they
skip with the reason."""

from __future__ import annotations

import os
import socket

import pytest

__all__ = ["ARTIFACTS", "require_loopback_only"]

ARTIFACTS = os.path.join(os.path.dirname(__file__), "..", "..", "test-artifacts")


def loopback_only() -> bool:
    return {name for _, name in socket.if_nameindex()} <= {"lo"}


def require_loopback_only() -> None:
    if loopback_only():
        return
    msg = (
        "media tests run only in a network namespace with loopback alone; "
        "run them with `make test` (as root it uses `unshare -n`) or "
        "`scripts/in-netns .venv/bin/pytest -m netns`"
    )
    if os.environ.get("FRONTDESK_REQUIRE_SERVICES") == "1":
        pytest.fail(msg)
    pytest.skip(msg)
