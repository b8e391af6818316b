"""Render the browser SDK's ``protocol.js`` from the Python contract.

The browser SDK takes every wire fact from one generated ES module,
``server/static/sdk/protocol.js``, instead of copies made by hand: the protocol
version and frame caps, the client and server message tables, the close codes
(by name and by number), which error code each close code stands for, the stable
error codes of :mod:`frontdesk.errors`, the leave reasons, the event names, the
event schemas, and the URL shapes of :mod:`frontdesk.protocol.urls` as small
functions built from the same constants.

``EVENT_SCHEMAS`` (event name -> ``{field: "type[?]"}``) and ``VALUE_SCHEMAS``
(participant, lobby entry, chat message, meeting, snapshot) are rendered from
:mod:`frontdesk.protocol.events`, which derives them from the typed classes.

The output is deterministic (tables in their source order, error codes sorted),
so the committed file can be compared with :func:`render` by a test. Regenerate
it with ``scripts/gen-protocol-js`` (``python -m frontdesk.protocol.jscontract
--write``); ``--check`` exits 1 when the committed file is stale.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import frontdesk.protocol as protocol_pkg
from frontdesk import errors
from frontdesk.domain.events import EventType
from frontdesk.domain.participants import LeaveReason
from frontdesk.protocol import codes, messages, urls

__all__ = ["PROTOCOL_JS", "error_codes", "event_schemas", "main", "render"]

#: Where the generated module is committed (served as ``/sdk/protocol.js``).
PROTOCOL_JS = Path(__file__).resolve().parent.parent / "server" / "static" / "sdk" / "protocol.js"

_HEADER = """\
// protocol.js — generated — do not edit.
//
// The wire contract of Frontdesk protocol version {version}, rendered from the
// Python package `frontdesk.protocol` by `frontdesk.protocol.jscontract`.
// Regenerate with `scripts/gen-protocol-js`; tests/web/test_protocol_parity.py
// fails when this file differs from what the Python contract renders.
"""


def _js(value: Any) -> str:
    """A JSON literal (valid JavaScript), indented, keys in their given order."""
    return json.dumps(value, indent=2, ensure_ascii=True)


def _const(name: str, value: Any, doc: str) -> str:
    return f"/** {doc} */\nexport const {name} = freeze({_js(value)});\n"


def _all_errors(cls: type[errors.FrontdeskError]) -> list[type[errors.FrontdeskError]]:
    out: list[type[errors.FrontdeskError]] = [cls]
    for sub in cls.__subclasses__():
        out.extend(_all_errors(sub))
    return out


def error_codes() -> dict[str, dict[str, Any]]:
    """Every stable error code of the exception tree -> its HTTP status and
    title, sorted by code (for a code two classes share, the first class met in
    a depth-first walk from :class:`~frontdesk.errors.FrontdeskError`)."""
    found: dict[str, dict[str, Any]] = {}
    for cls in _all_errors(errors.FrontdeskError):
        # Only the one error tree: subclasses elsewhere (an SDK's session-ended
        # kinds, stand-ins for unknown codes) exist or not depending on what was
        # imported, and the output must not.
        if cls.__module__ != errors.__name__:
            continue
        found.setdefault(cls.code, {"status": cls.status, "title": cls.title})
    return dict(sorted(found.items()))


def event_schemas() -> dict[str, dict[str, str]]:
    """The wire ``data`` of every event (``frontdesk.protocol.EVENT_SCHEMAS``)."""
    schemas: Mapping[str, Mapping[str, str]] = protocol_pkg.EVENT_SCHEMAS
    return {name: dict(fields) for name, fields in schemas.items()}


def value_schemas() -> dict[str, dict[str, str]]:
    """The shapes inside events and snapshots (``frontdesk.protocol.VALUE_SCHEMAS``)."""
    return {name: dict(fields) for name, fields in protocol_pkg.VALUE_SCHEMAS.items()}


def _tables() -> list[str]:
    close_by_name = {c.name: int(c) for c in codes.CloseCode}
    close_errors = {str(int(c)): code for c, code in codes.CLOSE_ERRORS.items()}
    leave: Sequence[str] = [r.value for r in LeaveReason]
    return [
        "/** Protocol version spoken by this SDK (the `v` of `hello`). */\n"
        f"export const PROTOCOL_VERSION = {messages.PROTOCOL_VERSION};\n",
        "/** Cap on one client -> server frame, in bytes. */\n"
        f"export const MAX_FRAME_BYTES = {messages.MAX_FRAME_BYTES};\n"
        "/** Cap on one server -> client frame, in bytes. */\n"
        f"export const MAX_SERVER_FRAME = {messages.MAX_SERVER_FRAME};\n"
        "/** Longest id (participant, chat message, ref) in a client frame. */\n"
        f"export const MAX_ID = {messages.MAX_ID};\n"
        "/** Longest token in a client frame. */\n"
        f"export const MAX_TOKEN = {messages.MAX_TOKEN};\n"
        "/** Longest chat text a client frame may carry (the domain's limit is lower). */\n"
        f"export const MAX_CHAT_FRAME_TEXT = {messages.MAX_CHAT_FRAME_TEXT};\n",
        _const(
            "CLIENT_MESSAGES",
            messages.CLIENT_MESSAGES,
            'Client message type -> {field: "type[?]"}; "?" marks an optional field.',
        ),
        _const("SERVER_MESSAGES", messages.SERVER_MESSAGES, "Server message type -> fields."),
        _const("CLOSE", close_by_name, "WebSocket close code name -> number."),
        _const(
            "CLOSE_NAMES",
            {str(v): k for k, v in close_by_name.items()},
            "WebSocket close code number -> name.",
        ),
        _const(
            "CLOSE_CODES",
            {k: int(v) for k, v in codes.CLOSE_CODES.items()},
            "Error code (or leave reason) -> the close code that ends a connection for it.",
        ),
        _const(
            "CLOSE_ERRORS",
            close_errors,
            "Close code -> the error code it stands for when no frame said more "
            "(close codes that are a leave reason stand for that reason).",
        ),
        _const(
            "LEAVE_REASONS",
            leave,
            "Why a session ended (participant_left reasons, bye reasons).",
        ),
        _const(
            "ERROR_CODES",
            error_codes(),
            "Every stable error code -> its HTTP status and title.",
        ),
        _const(
            "EVENTS",
            {e.name: e.value for e in EventType},
            "Meeting event names (the `name` of an `event` frame; "
            "`typing` has a frame of its own).",
        ),
        _const(
            "EVENT_SCHEMAS",
            event_schemas(),
            'Event name -> {field: "type[?]"} of its data (derived from the typed events).',
        ),
        _const(
            "VALUE_SCHEMAS",
            value_schemas(),
            'Participant, lobby entry, chat message, meeting and snapshot: {field: "type[?]"}.',
        ),
    ]


_FUNCTIONS = """\
/** The close code an error code (or leave reason) stands for, or null. */
export function closeCodeOf(errorCode) {{
  if (hasOwn(CLOSE_CODES, errorCode)) return CLOSE_CODES[errorCode];
  for (const [code, name] of Object.entries(CLOSE_ERRORS)) {{
    if (name === errorCode) return Number(code);
  }}
  return null;
}}

/**
 * The error code a close code stands for: a leave reason, a CLOSE_ERRORS entry,
 * or "{protocol_error}".
 */
export function closeErrorCode(closeCode) {{
  for (const reason of LEAVE_REASONS) if (CLOSE_CODES[reason] === closeCode) return reason;
  return hasOwn(CLOSE_ERRORS, closeCode) ? CLOSE_ERRORS[closeCode] : "{protocol_error}";
}}

// --- URL shapes (frontdesk/protocol/urls.py) -------------------------------------

/** `{{base}}{join_path}{{code}}` is a meeting's join URL. */
export const JOIN_PATH = {join_path};
/** `{{base}}{join_info_path}{{code}}`: a meeting before joining (subject, state, brand). */
export const JOIN_INFO_PATH = {join_info_path};
/** `{{base}}{discovery_path}{{meeting_id}}` is a meeting's discovery URI. */
export const DISCOVERY_PATH = {discovery_path};
/** The RTC WebSocket endpoint below the node's base path. */
export const RTC_PATH = {rtc_path};
/** Longest join code a parser accepts. */
export const MAX_JOIN_CODE = {max_join_code};
/** HTTP scheme of a base URL -> the WebSocket scheme of its RTC URL. */
export const WS_SCHEMES = freeze({ws_schemes});

const trimSlashes = (s) => String(s).replace(/\\/+$/, "");

/** The join URL the node at `baseUrl` publishes for `code`. */
export function joinUrl(baseUrl, code) {{
  return `${{trimSlashes(baseUrl)}}${{JOIN_PATH}}${{code}}`;
}}

/**
 * Split a join URL into `{{baseUrl, code}}` (query, fragment and trailing slashes
 * ignored; the code is the last path segment, after "/j/"). Throws
 * FrontdeskError("{meeting_not_found}") otherwise.
 */
export function parseJoinUrl(url) {{
  const head = trimSlashes(String(url).split("#", 1)[0].split("?", 1)[0]);
  const at = head.lastIndexOf(JOIN_PATH);
  const code = at < 0 ? "" : head.slice(at + JOIN_PATH.length);
  if (at < 0 || !code || code.includes("/") || [...code].length > MAX_JOIN_CODE) {{
    throw new FrontdeskError("{meeting_not_found}", "not a join URL");
  }}
  return {{ baseUrl: head.slice(0, at), code }};
}}

/** The join code of a join URL (see parseJoinUrl). */
export function joinCode(url) {{
  return parseJoinUrl(url).code;
}}

/** Where the meeting of join URL `url` says what it is before joining. */
export function joinInfoUrl(url) {{
  const {{ baseUrl, code }} = parseJoinUrl(url);
  return `${{trimSlashes(baseUrl)}}${{JOIN_INFO_PATH}}${{code}}`;
}}

/** Where a guest token for `meetingId` is resolved. */
export function discoveryUri(baseUrl, meetingId) {{
  return `${{trimSlashes(baseUrl)}}${{DISCOVERY_PATH}}${{meetingId}}`;
}}

/**
 * `http(s)://host[/prefix]` -> `ws(s)://host[/prefix]/v1/rtc` (query and fragment
 * dropped). Throws FrontdeskError("{validation_failed}") for anything else.
 */
export function rtcUrl(baseUrl) {{
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\\/\\/([^/?#]*)([^?#]*)/.exec(String(baseUrl));
  const scheme = m ? m[1].toLowerCase() : "";
  if (!m || !m[2] || !hasOwn(WS_SCHEMES, scheme)) {{
    throw new FrontdeskError("{validation_failed}", "the base URL must start with http:// or https://");
  }}
  return `${{WS_SCHEMES[scheme]}}://${{m[2]}}${{trimSlashes(m[3])}}${{RTC_PATH}}`;
}}

/** The RTC URL of the node that published the join URL `url`. */
export function rtcUrlForJoinUrl(url) {{
  return rtcUrl(parseJoinUrl(url).baseUrl);
}}
"""

_PRELUDE = """\
import {{ FrontdeskError }} from "./errors.js";

const hasOwn = (obj, key) => Object.prototype.hasOwnProperty.call(obj, key);

function freeze(value) {{
  if (value && typeof value === "object") {{
    for (const v of Object.values(value)) freeze(v);
    Object.freeze(value);
  }}
  return value;
}}
"""


def render() -> str:
    """The source of ``protocol.js`` (an ES module with no side effects)."""
    functions = _FUNCTIONS.format(
        protocol_error=errors.ProtocolError.code,
        meeting_not_found=errors.MeetingNotFound.code,
        validation_failed=errors.ValidationFailed.code,
        join_path=_js(urls.JOIN_PATH),
        discovery_path=_js(urls.DISCOVERY_PATH),
        join_info_path=_js(urls.JOIN_INFO_PATH),
        rtc_path=_js(urls.RTC_PATH),
        max_join_code=urls.MAX_JOIN_CODE,
        ws_schemes=_js(urls.WS_SCHEMES),
    )
    parts = [_HEADER.format(version=messages.PROTOCOL_VERSION), _PRELUDE.format(), *_tables()]
    return "\n".join([*parts, functions])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m frontdesk.protocol.jscontract",
        description="Render the browser SDK's protocol.js from the Python contract.",
    )
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", action="store_true", help="write the file")
    group.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    parser.add_argument("--path", type=Path, default=PROTOCOL_JS, help="the protocol.js path")
    args = parser.parse_args(argv)
    source = render()
    path: Path = args.path
    if args.write:
        path.write_text(source, encoding="utf-8")
        print(f"wrote {path}")
        return 0
    if args.check:
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current != source:
            print(f"{path} is stale: run scripts/gen-protocol-js", file=sys.stderr)
            return 1
        return 0
    sys.stdout.write(source)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
