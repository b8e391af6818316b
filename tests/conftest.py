"""Suites under tests/e2e, tests/media and tests/sfu carry WebRTC media: they are marked
``netns`` and ``make test`` runs them in a loopback-only network namespace."""

from __future__ import annotations

from pathlib import Path

import pytest

_NETNS_DIRS = [Path(__file__).parent / d for d in ("e2e", "media", "sfu")]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(str(item.fspath))
        if any(path.is_relative_to(d) for d in _NETNS_DIRS):
            item.add_marker(pytest.mark.netns)
