"""The browser SDK and the Python protocol tables describe the same wire schema."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from frontdesk.protocol.messages import CLIENT_MESSAGES, PROTOCOL_VERSION, SERVER_MESSAGES
from frontdesk.server.routes_web import STATIC_DIR

SDK = STATIC_DIR / "sdk" / "frontdesk.js"


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        msg = "node is not installed: cannot import the browser SDK"
        if os.environ.get("FRONTDESK_REQUIRE_SERVICES") == "1":
            pytest.fail(msg)
        pytest.skip(msg)
    return node


def _import_sdk(expr: str) -> Any:
    """Import the module in Node (no DOM: it must not touch window/document) and
    print ``expr`` (with ``m`` bound to the module) as JSON."""
    script = (
        f"import({json.dumps(SDK.resolve().as_uri())})"
        f".then(m => console.log(JSON.stringify({expr})))"
        ".catch(e => { console.error(e); process.exit(1); })"
    )
    out = subprocess.run(
        [_node(), "--input-type=module", "-e", script],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def _source() -> str:
    return Path(SDK).read_text(encoding="utf-8")


def test_protocol_tables_match_python() -> None:
    protocol = _import_sdk("m.PROTOCOL")
    assert protocol["version"] == PROTOCOL_VERSION
    assert protocol["clientMessages"] == CLIENT_MESSAGES
    assert protocol["serverMessages"] == SERVER_MESSAGES
    # same key order too, so a diff reads naturally
    assert list(protocol["clientMessages"]) == list(CLIENT_MESSAGES)
    assert list(protocol["serverMessages"]) == list(SERVER_MESSAGES)


def test_module_exports_the_contract() -> None:
    exports = _import_sdk("Object.keys(m).sort()")
    for name in ("join", "joinWithToken", "joinAsUser", "login", "listDevices", "PROTOCOL"):
        assert name in exports
    methods = _import_sdk("Object.getOwnPropertyNames(m.Meeting.prototype)")
    for name in (
        "on",
        "admitted",
        "sendChat",
        "setTyping",
        "admit",
        "deny",
        "mute",
        "remove",
        "end",
        "leave",
        "loadOlder",
        "startMedia",
        "setAudioMuted",
        "setVideoMuted",
        "switchCamera",
        "peerConnection",
    ):
        assert name in methods, name


@pytest.mark.parametrize("kind", sorted(SERVER_MESSAGES))
def test_every_server_message_is_handled(kind: str) -> None:
    assert re.search(rf'case "{kind}":', _source()), f"the SDK does not handle {kind!r}"


@pytest.mark.parametrize("kind", sorted(CLIENT_MESSAGES))
def test_every_client_message_is_sent(kind: str) -> None:
    pattern = rf'(?:_request|_send|sendFrame)\((?:[\w.]+, )?"{kind}"'
    assert re.search(pattern, _source()), f"no SDK method sends {kind!r}"


def test_every_event_name_is_handled() -> None:
    from frontdesk.domain.events import EventType

    src = _source()
    for name in EventType:
        if name is EventType.TYPING:  # an ephemeral frame of its own, not an event
            continue
        assert f'case "{name.value}":' in src, name.value
