/**
 * Frontdesk browser SDK: dependency-free ES modules, no build step. This is the
 * public entry point; it re-exports what the modules below it hold.
 *
 * Speaks protocol version 1 of the RTC WebSocket (`/v1/rtc`) like the Python SDK:
 * joining (URL, guest token, signed-in user), the session states, roster, lobby,
 * chat (idempotent sends), moderation, heartbeat, resume after a dropped
 * connection (events exactly once, by seq) and WebRTC media as a mesh with the
 * "perfect negotiation" pattern.
 *
 * Minimal example (the script loads from any origin, CORS `*`; the node's API
 * answers pages of the origins in its FRONTDESK_ALLOWED_ORIGINS only, else the
 * join fails with code "origin_refused"). Also an npm package (package.json
 * here, TypeScript declarations in frontdesk.d.ts):
 *
 *   import { joinWithToken } from "https://frontdesk.example/sdk/frontdesk.js";
 *   const meeting = await joinWithToken({ discoveryUri, token });
 *   meeting.on("state", ({ state }) => console.log("now", state));
 *   meeting.on("track", ({ participantId, stream }) => { video.srcObject = stream; });
 *   await meeting.admitted();          // resolves once let in from the lobby
 *   await meeting.startMedia({ audio: true, video: true });
 *   await meeting.sendChat("Hello!");
 *
 * A "track" (and "localstream") listener added late is called at once for the
 * streams that exist already, so the order of `on` and `startMedia` does not matter.
 * `joinWithToken({ discoveryUri, token, media: false })` (also `join`, `joinAsUser`)
 * is a chat-only session: it never creates an RTCPeerConnection and never answers
 * an offer (the protocol has no "decline", so the other side's connection to it
 * simply never completes).
 *
 * Notes on the contract (/sdk contract, protocol v1):
 * - Media negotiation: the peer with the smaller participant id creates the
 *   connection with one audio and one video transceiver (both "sendrecv") and
 *   makes the first offer; the other side asks for it with a `signal` of kind
 *   "renegotiate" (data `{}`) when it starts media first. Mute, camera off and
 *   camera switch only swap the sender's track (`replaceTrack`), so they never
 *   need a new offer/answer. So does `shareScreen()`: the screen goes in the
 *   camera's place and a `media` request with `screen_sharing: true` tells the
 *   others (roster field `screen_sharing`) to show that video as a screen.
 * - `join` / `joinWithToken` take `clientKey` (e.g. `tabKey()`): a page that
 *   joins again with it (a reload) replaces the session it left behind, which
 *   ends with reason "replaced"; so does a token's second use, and a user's
 *   second tab.
 * - Lobby entries built from a live `participant_waiting` event carry
 *   `timeout_at: null` (the event does not say it); snapshots carry it.
 * - Mesh: at most MAX_PEERS (3) peer connections, i.e. 4 people with media. Anyone
 *   beyond is chat-only for this session: a "mediacap" event and a console warning.
 * - Recovery: answers are applied only in "have-local-offer" (a stale duplicate is
 *   ignored). After this session resumes, and when ICE fails or stays
 *   "disconnected" for ICE_DISCONNECTED_MS, the impolite side (smaller id) calls
 *   restartIce() and the polite side sends "renegotiate" with `{ice_restart: true}`.
 *
 * Modules (names follow the Python SDK's): protocol.js (generated from the Python
 * contract: message tables, close and error codes, events, URL shapes),
 * errors.js, events.js (emitter), session.js (socket, auth, heartbeat, resume,
 * requests), meeting.js (the Meeting: state, roster, lobby, moderation), chat.js,
 * devices.js (local media), mesh.js (peer connections), screen.js (screen
 * sharing), join.js (ways in). The
 * server serves each of them next to this one, with the same headers.
 *
 * Nothing here touches `window` or `document` at import time (Node can import it).
 */

import { CLIENT_MESSAGES, PROTOCOL_VERSION, SERVER_MESSAGES } from "./protocol.js";

export { listDevices } from "./devices.js";
export { DEFAULT_BUSINESS, describeError, FrontdeskError, GUEST_MESSAGES } from "./errors.js";
export { join, joinAsUser, joinWithToken, login, tabKey } from "./join.js";
export { Meeting } from "./meeting.js";
export { MAX_PEERS } from "./mesh.js";

/** Protocol version 1: the message tables (from the generated protocol.js). */
export const PROTOCOL = Object.freeze({
  version: PROTOCOL_VERSION,
  clientMessages: CLIENT_MESSAGES,
  serverMessages: SERVER_MESSAGES,
});
