"""The browser SDK and the Python contract describe the same wire schema.

``sdk/protocol.js`` is generated from ``frontdesk.protocol``
(:mod:`frontdesk.protocol.jscontract`): the committed file must be what the
contract renders today, its values (imported in Node) must equal the Python
ones, and the hand-written SDK modules take their wire facts from it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

import frontdesk.protocol as protocol_pkg
from frontdesk.domain.events import EventType
from frontdesk.domain.participants import LeaveReason
from frontdesk.errors import FrontdeskError
from frontdesk.protocol import jscontract, urls
from frontdesk.protocol.codes import CLOSE_CODES, CLOSE_ERRORS, CloseCode
from frontdesk.protocol.messages import (
    CLIENT_MESSAGES,
    MAX_CHAT_FRAME_TEXT,
    MAX_FRAME_BYTES,
    MAX_ID,
    MAX_SERVER_FRAME,
    MAX_TOKEN,
    PROTOCOL_VERSION,
    SERVER_MESSAGES,
)
from frontdesk.server.routes_web import SDK_MODULES, STATIC_DIR

SDK_DIR = STATIC_DIR / "sdk"
SDK = SDK_DIR / "frontdesk.js"
PROTOCOL_JS = SDK_DIR / "protocol.js"


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        msg = "node is not installed: cannot import the browser SDK"
        if os.environ.get("FRONTDESK_REQUIRE_SERVICES") == "1":
            pytest.fail(msg)
        pytest.skip(msg)
    return node


def _run_node(module: Path, body: str) -> Any:
    """Import ``module`` in Node (no DOM: nothing may touch window/document at
    import time), bind it to ``m``, run ``body`` (which returns a value) and
    give back that value, through JSON."""
    script = (
        f"import({json.dumps(module.resolve().as_uri())})"
        f".then(async (m) => {{ const out = await (async () => {{ {body} }})();"
        " console.log(JSON.stringify(out)); })"
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


def _import_sdk(expr: str, module: Path = SDK) -> Any:
    """``expr`` (with ``m`` bound to the module) evaluated in Node, as JSON."""
    return _run_node(module, f"return ({expr});")


def _hand_written() -> dict[str, str]:
    """The SDK modules written by hand (every one but the generated protocol.js)."""
    return {
        p.name: p.read_text(encoding="utf-8")
        for p in sorted(SDK_DIR.glob("*.js"))
        if p.name != "protocol.js"
    }


def _source() -> str:
    return "\n".join(_hand_written().values())


# --- the generated module -------------------------------------------------------------


def test_committed_protocol_js_is_what_the_contract_renders() -> None:
    committed = PROTOCOL_JS.read_text(encoding="utf-8")
    assert committed == jscontract.render(), "protocol.js is stale: run scripts/gen-protocol-js"
    assert "generated — do not edit" in committed.splitlines()[0]
    assert jscontract.render() == jscontract.render()  # deterministic


def test_check_mode_reports_a_stale_file(tmp_path: Path) -> None:
    stale = tmp_path / "protocol.js"
    stale.write_text("// old\n", encoding="utf-8")
    assert jscontract.main(["--check", "--path", str(stale)]) == 1
    assert jscontract.main(["--write", "--path", str(stale)]) == 0
    assert jscontract.main(["--check", "--path", str(stale)]) == 0
    assert stale.read_text(encoding="utf-8") == jscontract.render()


def test_protocol_js_values_equal_the_python_contract() -> None:
    js = _import_sdk(
        "{version: m.PROTOCOL_VERSION, caps: [m.MAX_FRAME_BYTES, m.MAX_SERVER_FRAME, m.MAX_ID,"
        " m.MAX_TOKEN, m.MAX_CHAT_FRAME_TEXT], client: m.CLIENT_MESSAGES,"
        " clientOrder: Object.keys(m.CLIENT_MESSAGES), server: m.SERVER_MESSAGES,"
        " serverOrder: Object.keys(m.SERVER_MESSAGES), close: m.CLOSE, closeNames: m.CLOSE_NAMES,"
        " closeCodes: m.CLOSE_CODES, closeErrors: m.CLOSE_ERRORS, leave: m.LEAVE_REASONS,"
        " errors: m.ERROR_CODES, events: m.EVENTS, schemas: m.EVENT_SCHEMAS,"
        " frozen: Object.isFrozen(m.CLIENT_MESSAGES.hello) && Object.isFrozen(m.CLOSE)}",
        PROTOCOL_JS,
    )
    assert js["version"] == PROTOCOL_VERSION
    assert js["caps"] == [MAX_FRAME_BYTES, MAX_SERVER_FRAME, MAX_ID, MAX_TOKEN, MAX_CHAT_FRAME_TEXT]
    assert js["client"] == CLIENT_MESSAGES and js["clientOrder"] == list(CLIENT_MESSAGES)
    assert js["server"] == SERVER_MESSAGES and js["serverOrder"] == list(SERVER_MESSAGES)
    assert js["close"] == {c.name: int(c) for c in CloseCode}
    assert js["closeNames"] == {str(int(c)): c.name for c in CloseCode}
    assert js["closeCodes"] == {k: int(v) for k, v in CLOSE_CODES.items()}
    assert js["closeErrors"] == {str(int(k)): v for k, v in CLOSE_ERRORS.items()}
    assert js["leave"] == [r.value for r in LeaveReason]
    assert js["events"] == {e.name: e.value for e in EventType}
    assert js["schemas"] == protocol_pkg.EVENT_SCHEMAS
    assert js["frozen"] is True
    # every stable code of the exception tree, with its status
    tree: list[type[FrontdeskError]] = [FrontdeskError]
    for cls in tree:
        tree.extend(cls.__subclasses__())
    codes = {cls.code for cls in tree if cls.__module__ == "frontdesk.errors"}
    assert set(js["errors"]) == codes and list(js["errors"]) == sorted(codes)
    for cls in tree:
        if cls.__module__ == "frontdesk.errors":
            assert js["errors"][cls.code]["status"] == cls.status, cls


def test_close_errors_name_stable_codes_and_leave_reasons_have_close_codes() -> None:
    stable = set(jscontract.error_codes())
    assert set(CLOSE_ERRORS.values()) <= stable
    for reason in LeaveReason:
        assert reason.value in CLOSE_CODES, reason
    assert not set(CLOSE_ERRORS) & {CLOSE_CODES[r.value] for r in LeaveReason}


def test_close_code_helpers_agree_with_python() -> None:
    error_codes = [*CLOSE_CODES, *CLOSE_ERRORS.values(), "nope"]
    closes = [int(c) for c in CloseCode]
    js = _run_node(
        PROTOCOL_JS,
        f"""return {{
          of: Object.fromEntries({json.dumps(error_codes)}.map((c) => [c, m.closeCodeOf(c)])),
          err: Object.fromEntries({json.dumps(closes)}.map((n) => [n, m.closeErrorCode(n)])),
        }};""",
    )
    for code, close in CLOSE_CODES.items():
        assert js["of"][code] == close
    assert js["of"]["conflict"] == CloseCode.REPLACED
    assert js["of"]["nope"] is None
    leave_by_close = {CLOSE_CODES[r.value]: r.value for r in LeaveReason}
    for close in CloseCode:
        want = leave_by_close.get(close) or CLOSE_ERRORS.get(close) or "protocol_error"
        assert js["err"][str(int(close))] == want, close


# --- URL shapes: the JS functions answer like frontdesk.protocol.urls ------------------

URL_INPUTS = [
    "https://meet.example/j/abc",
    "https://meet.example/j/abc/?utm=1#frag",
    "http://127.0.0.1:8080/prefix/j/a-b_c",
    "HTTPS://Meet.Example:8443/j/Zz09",
    "/j/abc",
    "https://h/j/j/abc",
    "https://meet.example/abc",
    "https://meet.example/j/",
    "https://meet.example/j/abc/extra",
    "https://meet.example/x?next=/j/abc",
    "https://meet.example/j/" + "a" * 64,
    "https://meet.example/j/" + "a" * 65,
    "https://meet.example/j/" + "é" * 64,
    "ftp://meet.example/j/abc",
    "",
]
BASE_INPUTS = [
    "http://127.0.0.1:8080",
    "https://meet.example/",
    "HTTPS://meet.example/fd/?x=1#y",
    "https://[::1]:8443/fd",
    "meet.example",
    "ftp://meet.example",
    "https://",
]


def _py(fn: Any, *args: str) -> Any:
    try:
        out = fn(*args)
    except FrontdeskError as err:
        return {"error": err.code, "message": str(err)}
    return {"baseUrl": out.base_url, "code": out.code} if isinstance(out, urls.JoinUrl) else out


def test_url_functions_agree_with_python() -> None:
    body = f"""
      const urls = {json.dumps(URL_INPUTS)};
      const bases = {json.dumps(BASE_INPUTS)};
      const call = (fn, ...args) => {{
        try {{ return fn(...args); }}
        catch (e) {{ return {{ error: e.code, message: e.message, typed: e.name }}; }}
      }};
      return {{
        parse: urls.map((u) => call(m.parseJoinUrl, u)),
        code: urls.map((u) => call(m.joinCode, u)),
        rtcForJoin: urls.map((u) => call(m.rtcUrlForJoinUrl, u)),
        rtc: bases.map((b) => call(m.rtcUrl, b)),
        join: bases.map((b) => call(m.joinUrl, b, "abc")),
        discovery: bases.map((b) => call(m.discoveryUri, b, "m1")),
        consts: [m.JOIN_PATH, m.DISCOVERY_PATH, m.RTC_PATH, m.MAX_JOIN_CODE, m.WS_SCHEMES],
      }};
    """
    js = _run_node(PROTOCOL_JS, body)
    assert js["consts"] == [
        urls.JOIN_PATH,
        urls.DISCOVERY_PATH,
        urls.RTC_PATH,
        urls.MAX_JOIN_CODE,
        urls.WS_SCHEMES,
    ]

    def strip(v: Any) -> Any:
        if isinstance(v, dict) and "typed" in v:
            assert v.pop("typed") == "FrontdeskError"
        return v

    assert [strip(v) for v in js["parse"]] == [_py(urls.parse_join_url, u) for u in URL_INPUTS]
    assert [strip(v) for v in js["code"]] == [_py(urls.join_code, u) for u in URL_INPUTS]
    assert [strip(v) for v in js["rtcForJoin"]] == [
        _py(urls.rtc_url_for_join_url, u) for u in URL_INPUTS
    ]
    assert [strip(v) for v in js["rtc"]] == [_py(urls.rtc_url, b) for b in BASE_INPUTS]
    assert js["join"] == [urls.join_url(b, "abc") for b in BASE_INPUTS]
    assert js["discovery"] == [urls.discovery_uri(b, "m1") for b in BASE_INPUTS]


# --- the hand-written SDK ---------------------------------------------------------------


def test_every_sdk_module_is_served() -> None:
    assert {p.name for p in SDK_DIR.glob("*.js")} == SDK_MODULES


def test_protocol_tables_match_python() -> None:
    protocol = _import_sdk("m.PROTOCOL")
    assert protocol["version"] == PROTOCOL_VERSION
    assert protocol["clientMessages"] == CLIENT_MESSAGES
    assert protocol["serverMessages"] == SERVER_MESSAGES
    # same key order too, so a diff reads naturally
    assert list(protocol["clientMessages"]) == list(CLIENT_MESSAGES)
    assert list(protocol["serverMessages"]) == list(SERVER_MESSAGES)


def test_no_wire_fact_is_copied_by_hand() -> None:
    """Close codes and URL paths appear only in the generated protocol.js (1000,
    the normal close, is also a second in milliseconds: not checked)."""
    facts = {str(int(c)) for c in CloseCode if c is not CloseCode.NORMAL}
    facts |= {urls.RTC_PATH, urls.DISCOVERY_PATH}
    for name, src in _hand_written().items():
        # the 4000-4999 range is the WebSocket spec's (RFC 6455), not a table of ours
        code = src.replace("code >= 4000 && code < 5000", "")
        code = re.sub(r"^\s*(/\*\*|\*|//).*$", "", code, flags=re.MULTILINE)  # comments
        for fact in facts:
            assert not re.search(rf"(?<![\w.]){re.escape(fact)}(?![\w])", code), (name, fact)


LEAVE_REASONS_FOR_GUESTS = (
    "removed", "denied", "lobby_timeout", "connection_lost", "revoked",
)  # fmt: skip

EXPORTS = [
    "DEFAULT_BUSINESS",
    "FrontdeskError",
    "GUEST_MESSAGES",
    "MAX_PEERS",
    "Meeting",
    "PROTOCOL",
    "describeError",
    "join",
    "joinAsUser",
    "joinWithToken",
    "listDevices",
    "login",
    "tabKey",
]


def test_module_exports_the_contract() -> None:
    assert _import_sdk("Object.keys(m).sort()") == EXPORTS
    assert _import_sdk("m.MAX_PEERS") == 3
    assert _import_sdk("m.Meeting.listDevices === m.listDevices") is True
    err = _import_sdk(
        "(() => { const e = new m.FrontdeskError('forbidden', 'no', {status: 403});"
        " return [e instanceof Error, e.name, e.code, e.message, e.status]; })()"
    )
    assert err == [True, "FrontdeskError", "forbidden", "no", 403]


def test_errors_speak_plainly_to_visitors() -> None:
    """Every code a visitor can meet has a sentence with a next step, naming the
    business; the developer's words stay in ``message``, never in ``userMessage``."""
    said = _import_sdk(
        "(() => { const e = new m.FrontdeskError('meeting_not_found', 'no meeting with this join"
        " code'); return [e.userMessage, m.describeError('meeting_ended', {business: 'Harbor"
        " Bank'}), m.describeError({code: 'something_new'}), m.describeError('token_used')]; })()"
    )
    assert said == [
        "This link is not valid. Check the link you were sent or ask for a new one.",
        "This meeting has ended. If you still need help, contact Harbor Bank.",
        "Something went wrong on our side. Reload the page and try again.",
        "This invitation has already been used. Ask the business that invited you for a new link.",
    ]
    messages = _import_sdk("m.GUEST_MESSAGES")
    guest_codes = {
        "meeting_not_found", "token_invalid", "token_wrong_meeting", "token_expired",
        "token_used", "meeting_ended", "forbidden", "origin_refused", "rate_limited",
        "limit_exceeded", "validation_failed", "unavailable", "protocol_error",
        "unsupported_version", "media_unavailable", *LEAVE_REASONS_FOR_GUESTS,
    }  # fmt: skip
    for code in guest_codes:
        text = messages[code]
        assert text.endswith(".") and "_" not in text, (code, text)
        # what happened, then what to do next: two sentences at least
        assert len([s for s in text.split(". ") if s]) >= 2, (code, text)
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


def test_a_meeting_is_built_without_a_dom() -> None:
    state = _import_sdk(
        "(() => { const x = new m.Meeting('ws://127.0.0.1:1/v1/rtc', [], {media: false});"
        " return [x.state, x.mediaEnabled, x.audioMuted, x.videoMuted, x.lastSeq,"
        " x.roster instanceof Map, x.chat.length]; })()"
    )
    assert state == ["connecting", False, True, True, 0, True, 0]


@pytest.mark.parametrize("kind", sorted(SERVER_MESSAGES))
def test_every_server_message_is_handled(kind: str) -> None:
    assert re.search(rf'case "{kind}":', _source()), f"the SDK does not handle {kind!r}"


@pytest.mark.parametrize("kind", sorted(CLIENT_MESSAGES))
def test_every_client_message_is_sent(kind: str) -> None:
    pattern = rf'(?:request|send|sendFrame)\((?:[\w.]+, )?"{kind}"'
    assert re.search(pattern, _source()), f"no SDK method sends {kind!r}"


def test_every_event_name_is_handled() -> None:
    src = _source()
    for name in EventType:
        if name is EventType.TYPING:  # an ephemeral frame of its own, not an event
            continue
        assert f'case "{name.value}":' in src, name.value


def test_event_and_value_schemas_are_the_python_ones() -> None:
    """The browser SDK's schemas are the typed classes' (one source)."""
    from frontdesk.protocol.events import EVENT_SCHEMAS, VALUE_SCHEMAS

    assert _import_sdk("m.EVENT_SCHEMAS", SDK_DIR / "protocol.js") == EVENT_SCHEMAS
    assert _import_sdk("m.VALUE_SCHEMAS", SDK_DIR / "protocol.js") == VALUE_SCHEMAS
    assert EVENT_SCHEMAS["chat_message"] == {
        "participant_id": "str",
        "display_name": "str",
        "text": "str",
        "client_msg_id": "str",
        "redacted": "bool",  # said only when true: deleted by chat retention
    }
    assert "username" not in VALUE_SCHEMAS["participant"]  # never on the wire


def test_every_leave_reason_has_words_on_the_end_screen() -> None:
    """A visitor whose session ends is told why in words, for every reason the
    protocol can give (a new reason without words would show its raw code)."""
    from frontdesk.domain.participants import LeaveReason

    ui = (SDK_DIR.parent / "js" / "ui.js").read_text(encoding="utf-8")
    block = ui[
        ui.index("export const END_TEXT") : ui.index("};", ui.index("export const END_TEXT"))
    ]
    missing = [r.value for r in LeaveReason if f"  {r.value}:" not in block]
    assert missing == [], missing
