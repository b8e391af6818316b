// protocol.js — generated — do not edit.
//
// The wire contract of Frontdesk protocol version 1, rendered from the
// Python package `frontdesk.protocol` by `frontdesk.protocol.jscontract`.
// Regenerate with `scripts/gen-protocol-js`; tests/web/test_protocol_parity.py
// fails when this file differs from what the Python contract renders.

import { FrontdeskError } from "./errors.js";

const hasOwn = (obj, key) => Object.prototype.hasOwnProperty.call(obj, key);

function freeze(value) {
  if (value && typeof value === "object") {
    for (const v of Object.values(value)) freeze(v);
    Object.freeze(value);
  }
  return value;
}

/** Protocol version spoken by this SDK (the `v` of `hello`). */
export const PROTOCOL_VERSION = 1;

/** Cap on one client -> server frame, in bytes. */
export const MAX_FRAME_BYTES = 65536;
/** Cap on one server -> client frame, in bytes. */
export const MAX_SERVER_FRAME = 4194304;
/** Longest id (participant, chat message, ref) in a client frame. */
export const MAX_ID = 64;
/** Longest token in a client frame. */
export const MAX_TOKEN = 8192;
/** Longest chat text a client frame may carry (the domain's limit is lower). */
export const MAX_CHAT_FRAME_TEXT = 16000;

/** Client message type -> {field: "type[?]"}; "?" marks an optional field. */
export const CLIENT_MESSAGES = freeze({
  "hello": {
    "v": "int",
    "auth": "object",
    "client": "str?"
  },
  "chat": {
    "id": "str",
    "text": "str"
  },
  "whisper": {
    "id": "str",
    "text": "str"
  },
  "barge": {},
  "typing": {
    "typing": "bool"
  },
  "media": {
    "audio_muted": "bool?",
    "video_muted": "bool?",
    "hand_raised": "bool?",
    "screen_sharing": "bool?"
  },
  "admit": {
    "participant_id": "str"
  },
  "deny": {
    "participant_id": "str"
  },
  "mute": {
    "participant_id": "str"
  },
  "remove": {
    "participant_id": "str"
  },
  "end": {},
  "leave": {},
  "signal": {
    "to": "str",
    "kind": "str",
    "data": "object"
  },
  "history": {
    "before_seq": "int",
    "limit": "int?"
  },
  "ping": {},
  "sfu_publish": {
    "sdp": "str"
  },
  "sfu_subscribe": {
    "feed": "str"
  },
  "sfu_answer": {
    "feed": "str",
    "sdp": "str"
  },
  "sfu_trickle": {
    "feed": "str?",
    "candidate": "object?"
  },
  "sfu_unsubscribe": {
    "feed": "str"
  },
  "sfu_layer": {
    "feed": "str",
    "substream": "int"
  }
});

/** Server message type -> fields. */
export const SERVER_MESSAGES = freeze({
  "welcome": {
    "v": "int",
    "participant_id": "str",
    "resume_token": "str",
    "state": "str",
    "snapshot": "object",
    "heartbeat_s": "number",
    "resumed": "bool",
    "ice_servers": "list?"
  },
  "state": {
    "state": "str",
    "snapshot": "object"
  },
  "event": {
    "seq": "int",
    "name": "str",
    "at": "str",
    "data": "object"
  },
  "typing": {
    "participant_id": "str",
    "typing": "bool"
  },
  "signal": {
    "from": "str",
    "kind": "str",
    "data": "object"
  },
  "ok": {
    "ref": "str?",
    "result": "object?"
  },
  "error": {
    "ref": "str?",
    "code": "str",
    "message": "str",
    "retry_after": "number?",
    "rtc_url": "str?"
  },
  "pong": {
    "resume_token": "str?"
  },
  "ping": {},
  "bye": {
    "reason": "str",
    "code": "int"
  },
  "sfu_route": {
    "route": "str",
    "feeds": "list"
  },
  "sfu_trickle": {
    "feed": "str?",
    "candidate": "object?"
  },
  "visit_position": {
    "visit_id": "str",
    "state": "str",
    "position": "int?",
    "estimated_wait_s": "int?"
  }
});

/** WebSocket close code name -> number. */
export const CLOSE = freeze({
  "NORMAL": 1000,
  "GOING_AWAY": 1001,
  "LEFT": 4000,
  "AUTH_FAILED": 4001,
  "TOKEN_EXPIRED": 4002,
  "FORBIDDEN": 4003,
  "NOT_FOUND": 4004,
  "PROTOCOL_ERROR": 4005,
  "RATE_LIMITED": 4008,
  "REPLACED": 4009,
  "MEETING_ENDED": 4010,
  "REMOVED": 4011,
  "DENIED": 4012,
  "LOBBY_TIMEOUT": 4013,
  "HEARTBEAT_TIMEOUT": 4014,
  "CONNECTION_LOST": 4015,
  "REVOKED": 4016,
  "SUPERSEDED": 4017
});

/** WebSocket close code number -> name. */
export const CLOSE_NAMES = freeze({
  "1000": "NORMAL",
  "1001": "GOING_AWAY",
  "4000": "LEFT",
  "4001": "AUTH_FAILED",
  "4002": "TOKEN_EXPIRED",
  "4003": "FORBIDDEN",
  "4004": "NOT_FOUND",
  "4005": "PROTOCOL_ERROR",
  "4008": "RATE_LIMITED",
  "4009": "REPLACED",
  "4010": "MEETING_ENDED",
  "4011": "REMOVED",
  "4012": "DENIED",
  "4013": "LOBBY_TIMEOUT",
  "4014": "HEARTBEAT_TIMEOUT",
  "4015": "CONNECTION_LOST",
  "4016": "REVOKED",
  "4017": "SUPERSEDED"
});

/** Error code (or leave reason) -> the close code that ends a connection for it. */
export const CLOSE_CODES = freeze({
  "unauthenticated": 4001,
  "invalid_credentials": 4001,
  "token_invalid": 4001,
  "token_wrong_meeting": 4001,
  "token_expired": 4002,
  "token_used": 4003,
  "forbidden": 4003,
  "origin_refused": 4003,
  "meeting_not_found": 4004,
  "not_found": 4004,
  "meeting_ended": 4010,
  "protocol_error": 4005,
  "unsupported_version": 4005,
  "rate_limited": 4008,
  "limit_exceeded": 4003,
  "unavailable": 1001,
  "wrong_node": 1001,
  "left": 4000,
  "removed": 4011,
  "denied": 4012,
  "lobby_timeout": 4013,
  "connection_lost": 4015,
  "revoked": 4016,
  "replaced": 4017
});

/** Close code -> the error code it stands for when no frame said more (close codes that are a leave reason stand for that reason). */
export const CLOSE_ERRORS = freeze({
  "4001": "unauthenticated",
  "4003": "forbidden",
  "4004": "meeting_not_found",
  "4005": "protocol_error",
  "4008": "rate_limited",
  "4009": "conflict"
});

/** Why a session ended (participant_left reasons, bye reasons). */
export const LEAVE_REASONS = freeze([
  "left",
  "removed",
  "denied",
  "meeting_ended",
  "lobby_timeout",
  "token_expired",
  "connection_lost",
  "revoked",
  "replaced"
]);

/** Every stable error code -> its HTTP status and title. */
export const ERROR_CODES = freeze({
  "already_exists": {
    "status": 409,
    "title": "It exists already"
  },
  "app_not_found": {
    "status": 404,
    "title": "No such application"
  },
  "conflict": {
    "status": 409,
    "title": "Conflict"
  },
  "csrf_refused": {
    "status": 403,
    "title": "Refused: the request came from another web origin"
  },
  "error": {
    "status": 500,
    "title": "Internal error"
  },
  "forbidden": {
    "status": 403,
    "title": "Not allowed"
  },
  "illegal_state": {
    "status": 409,
    "title": "Not possible in the current state"
  },
  "invalid_client": {
    "status": 401,
    "title": "Unknown client or wrong secret"
  },
  "invalid_credentials": {
    "status": 401,
    "title": "Unknown user or wrong password"
  },
  "limit_exceeded": {
    "status": 413,
    "title": "A size limit was exceeded"
  },
  "meeting_ended": {
    "status": 410,
    "title": "The meeting has ended"
  },
  "meeting_not_found": {
    "status": 404,
    "title": "No such meeting"
  },
  "not_found": {
    "status": 404,
    "title": "Not found"
  },
  "origin_refused": {
    "status": 403,
    "title": "Refused: this web origin is not allowed"
  },
  "participant_not_found": {
    "status": 404,
    "title": "No such participant"
  },
  "protocol_error": {
    "status": 400,
    "title": "Malformed message"
  },
  "queue_closed": {
    "status": 409,
    "title": "The queue is closed"
  },
  "queue_full": {
    "status": 409,
    "title": "The queue is full"
  },
  "queue_not_found": {
    "status": 404,
    "title": "No such queue"
  },
  "rate_limited": {
    "status": 429,
    "title": "Too many requests"
  },
  "token_expired": {
    "status": 401,
    "title": "The token has expired"
  },
  "token_invalid": {
    "status": 401,
    "title": "The token is not valid"
  },
  "token_used": {
    "status": 403,
    "title": "The single-use token was already used"
  },
  "token_wrong_meeting": {
    "status": 403,
    "title": "The token is for another meeting"
  },
  "unauthenticated": {
    "status": 401,
    "title": "Authentication required"
  },
  "unavailable": {
    "status": 503,
    "title": "Temporarily unavailable"
  },
  "unsupported_version": {
    "status": 400,
    "title": "Unsupported protocol version"
  },
  "user_not_found": {
    "status": 404,
    "title": "No such user"
  },
  "validation_failed": {
    "status": 422,
    "title": "The request is not valid"
  },
  "visit_not_found": {
    "status": 404,
    "title": "No such visit"
  },
  "webhook_target_forbidden": {
    "status": 422,
    "title": "The webhook URL is not an allowed target"
  },
  "wrong_node": {
    "status": 421,
    "title": "The meeting is hosted on another node"
  }
});

/** Meeting event names (the `name` of an `event` frame; `typing` has a frame of its own). */
export const EVENTS = freeze({
  "PARTICIPANT_WAITING": "participant_waiting",
  "LOBBY_POSITION": "lobby_position",
  "PARTICIPANT_ADMITTED": "participant_admitted",
  "PARTICIPANT_DENIED": "participant_denied",
  "PARTICIPANT_JOINED": "participant_joined",
  "PARTICIPANT_LEFT": "participant_left",
  "PARTICIPANT_RECONNECTING": "participant_reconnecting",
  "PARTICIPANT_RECONNECTED": "participant_reconnected",
  "MEDIA_CHANGED": "media_changed",
  "CHAT_MESSAGE": "chat_message",
  "TYPING": "typing",
  "POLICY_CHANGED": "policy_changed",
  "MEETING_ENDED": "meeting_ended",
  "WHISPER": "whisper",
  "SUPERVISOR_BARGED": "supervisor_barged"
});

/** Event name -> {field: "type[?]"} of its data (derived from the typed events). */
export const EVENT_SCHEMAS = freeze({
  "participant_waiting": {
    "participant": "object"
  },
  "participant_joined": {
    "participant": "object"
  },
  "lobby_position": {
    "participant_id": "str",
    "position": "int",
    "organizer_present": "bool",
    "timeout_at": "str?"
  },
  "participant_admitted": {
    "participant_id": "str",
    "by": "str"
  },
  "participant_denied": {
    "participant_id": "str",
    "by": "str"
  },
  "participant_left": {
    "participant_id": "str",
    "display_name": "str",
    "reason": "str",
    "by": "str?"
  },
  "participant_reconnecting": {
    "participant_id": "str"
  },
  "participant_reconnected": {
    "participant_id": "str"
  },
  "media_changed": {
    "participant_id": "str",
    "by": "str",
    "audio_muted": "bool",
    "video_muted": "bool",
    "hand_raised": "bool",
    "screen_sharing": "bool"
  },
  "chat_message": {
    "participant_id": "str",
    "display_name": "str",
    "text": "str",
    "client_msg_id": "str",
    "redacted": "bool"
  },
  "typing": {
    "participant_id": "str",
    "typing": "bool"
  },
  "policy_changed": {
    "access_policy": "str",
    "lobby_bypass": "str"
  },
  "meeting_ended": {
    "reason": "str",
    "by": "str?"
  },
  "whisper": {
    "participant_id": "str",
    "display_name": "str",
    "text": "str",
    "client_msg_id": "str",
    "redacted": "bool"
  },
  "supervisor_barged": {
    "participant_id": "str"
  }
});

/** Participant, lobby entry, chat message, meeting and snapshot: {field: "type[?]"}. */
export const VALUE_SCHEMAS = freeze({
  "participant": {
    "id": "str",
    "display_name": "str",
    "role": "str",
    "method": "str",
    "state": "str",
    "vouched": "bool",
    "lobby_since": "str?",
    "joined_at": "str?",
    "audio_muted": "bool",
    "video_muted": "bool",
    "hand_raised": "bool",
    "left_reason": "str?",
    "reconnecting_since": "str?",
    "supervisor": "str?",
    "visit_id": "str?",
    "screen_sharing": "bool"
  },
  "lobby_entry": {
    "participant_id": "str",
    "display_name": "str",
    "role": "str",
    "method": "str",
    "vouched": "bool",
    "state": "str",
    "waiting_since": "str?",
    "timeout_at": "str?",
    "visit_id": "str?"
  },
  "chat_message": {
    "seq": "int",
    "participant_id": "str",
    "display_name": "str",
    "text": "str",
    "client_msg_id": "str",
    "at": "str",
    "redacted": "bool"
  },
  "meeting": {
    "id": "str",
    "subject": "str",
    "access_policy": "str",
    "lobby_bypass": "str",
    "state": "str",
    "ended": "bool",
    "organizer_display_name": "str?"
  },
  "snapshot": {
    "meeting": "object",
    "me": "object",
    "roster": "list",
    "lobby": "list",
    "chat": "list",
    "lobby_position": "int?",
    "organizer_present": "bool?",
    "timeout_at": "str?",
    "last_seq": "int",
    "chat_truncated": "bool",
    "whispers": "list?"
  }
});

/** The close code an error code (or leave reason) stands for, or null. */
export function closeCodeOf(errorCode) {
  if (hasOwn(CLOSE_CODES, errorCode)) return CLOSE_CODES[errorCode];
  for (const [code, name] of Object.entries(CLOSE_ERRORS)) {
    if (name === errorCode) return Number(code);
  }
  return null;
}

/**
 * The error code a close code stands for: a leave reason, a CLOSE_ERRORS entry,
 * or "protocol_error".
 */
export function closeErrorCode(closeCode) {
  for (const reason of LEAVE_REASONS) if (CLOSE_CODES[reason] === closeCode) return reason;
  return hasOwn(CLOSE_ERRORS, closeCode) ? CLOSE_ERRORS[closeCode] : "protocol_error";
}

// --- URL shapes (frontdesk/protocol/urls.py) -------------------------------------

/** `{base}"/j/"{code}` is a meeting's join URL. */
export const JOIN_PATH = "/j/";
/** `{base}"/v1/join/"{code}`: a meeting before joining (subject, state, brand). */
export const JOIN_INFO_PATH = "/v1/join/";
/** `{base}"/v1/discovery/"{meeting_id}` is a meeting's discovery URI. */
export const DISCOVERY_PATH = "/v1/discovery/";
/** The RTC WebSocket endpoint below the node's base path. */
export const RTC_PATH = "/v1/rtc";
/** Longest join code a parser accepts. */
export const MAX_JOIN_CODE = 64;
/** HTTP scheme of a base URL -> the WebSocket scheme of its RTC URL. */
export const WS_SCHEMES = freeze({
  "http": "ws",
  "https": "wss"
});

const trimSlashes = (s) => String(s).replace(/\/+$/, "");

/** The join URL the node at `baseUrl` publishes for `code`. */
export function joinUrl(baseUrl, code) {
  return `${trimSlashes(baseUrl)}${JOIN_PATH}${code}`;
}

/**
 * Split a join URL into `{baseUrl, code}` (query, fragment and trailing slashes
 * ignored; the code is the last path segment, after "/j/"). Throws
 * FrontdeskError("meeting_not_found") otherwise.
 */
export function parseJoinUrl(url) {
  const head = trimSlashes(String(url).split("#", 1)[0].split("?", 1)[0]);
  const at = head.lastIndexOf(JOIN_PATH);
  const code = at < 0 ? "" : head.slice(at + JOIN_PATH.length);
  if (at < 0 || !code || code.includes("/") || [...code].length > MAX_JOIN_CODE) {
    throw new FrontdeskError("meeting_not_found", "not a join URL");
  }
  return { baseUrl: head.slice(0, at), code };
}

/** The join code of a join URL (see parseJoinUrl). */
export function joinCode(url) {
  return parseJoinUrl(url).code;
}

/** Where the meeting of join URL `url` says what it is before joining. */
export function joinInfoUrl(url) {
  const { baseUrl, code } = parseJoinUrl(url);
  return `${trimSlashes(baseUrl)}${JOIN_INFO_PATH}${code}`;
}

/** Where a guest token for `meetingId` is resolved. */
export function discoveryUri(baseUrl, meetingId) {
  return `${trimSlashes(baseUrl)}${DISCOVERY_PATH}${meetingId}`;
}

/**
 * `http(s)://host[/prefix]` -> `ws(s)://host[/prefix]/v1/rtc` (query and fragment
 * dropped). Throws FrontdeskError("validation_failed") for anything else.
 */
export function rtcUrl(baseUrl) {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)([^?#]*)/.exec(String(baseUrl));
  const scheme = m ? m[1].toLowerCase() : "";
  if (!m || !m[2] || !hasOwn(WS_SCHEMES, scheme)) {
    throw new FrontdeskError("validation_failed", "the base URL must start with http:// or https://");
  }
  return `${WS_SCHEMES[scheme]}://${m[2]}${trimSlashes(m[3])}${RTC_PATH}`;
}

/** The RTC URL of the node that published the join URL `url`. */
export function rtcUrlForJoinUrl(url) {
  return rtcUrl(parseJoinUrl(url).baseUrl);
}
