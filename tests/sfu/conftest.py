"""One Janus per test module, on a veth pair in the test's network namespace."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.janus import JanusInstance, janus_in_netns


@pytest.fixture(scope="module")
def janus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JanusInstance]:
    with janus_in_netns(tmp_path_factory.mktemp("janus")) as instance:
        yield instance
