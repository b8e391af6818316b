/**
 * Frontdesk browser SDK: one dependency-free ES module, no build step.
 *
 * Speaks protocol version 1 of the RTC WebSocket (`/v1/rtc`) like the Python SDK:
 * joining (URL, guest token, signed-in user), the session states, roster, lobby,
 * chat (idempotent sends), moderation, heartbeat, resume after a dropped
 * connection (events exactly once, by seq) and WebRTC media as a mesh with the
 * "perfect negotiation" pattern.
 *
 * Minimal example (works from any origin; the script is served with CORS `*`):
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
 *   need a new offer/answer.
 * - Lobby entries built from a live `participant_waiting` event carry
 *   `timeout_at: null` (the event does not say it); snapshots carry it.
 * - Mesh: at most MAX_PEERS (3) peer connections, i.e. 4 people with media. Anyone
 *   beyond is chat-only for this session: a "mediacap" event and a console warning.
 * - Recovery: answers are applied only in "have-local-offer" (a stale duplicate is
 *   ignored). After this session resumes, and when ICE fails or stays
 *   "disconnected" for ICE_DISCONNECTED_MS, the impolite side (smaller id) calls
 *   restartIce() and the polite side sends "renegotiate" with `{ice_restart: true}`.
 *
 * Nothing here touches `window` or `document` at import time (Node can import it).
 */

import { FrontdeskError } from "./errors.js";
import {
  CLIENT_MESSAGES,
  CLOSE,
  LEAVE_REASONS as LEAVE_REASON_LIST,
  PROTOCOL_VERSION,
  SERVER_MESSAGES,
  closeCodeOf,
  closeErrorCode,
  rtcUrl,
  rtcUrlForJoinUrl,
} from "./protocol.js";

export { FrontdeskError };

/** Protocol version 1: the message tables (from the generated protocol.js). */
export const PROTOCOL = Object.freeze({
  version: PROTOCOL_VERSION,
  clientMessages: CLIENT_MESSAGES,
  serverMessages: SERVER_MESSAGES,
});

const CLIENT_NAME = "frontdesk-js/1";
const REQUEST_TIMEOUT_MS = 15000;
const JOIN_TIMEOUT_MS = 15000;
const RESUME_INITIAL_MS = 250;
const RESUME_MAX_MS = 5000;
const RESUME_GIVE_UP_MS = 60000;
/** Peer connections per session (a mesh of 4 people with media). */
export const MAX_PEERS = 3;
const ICE_DISCONNECTED_MS = 3000;
/** Why a session can end (the bye reasons and leave close codes). */
const LEAVE_REASONS = new Set(LEAVE_REASON_LIST);

/** Whether a close code ends the session (4000 range; heartbeat timeout is resumable). */
function isFinalClose(code) {
  return code >= 4000 && code < 5000 && code !== CLOSE.HEARTBEAT_TIMEOUT;
}

/** The leave reason a final close code stands for ("connection_lost" when it is an error). */
function leaveReasonOf(code) {
  const reason = closeErrorCode(code);
  return LEAVE_REASONS.has(reason) ? reason : "connection_lost";
}

function newId() {
  const c = globalThis.crypto;
  if (c && typeof c.randomUUID === "function") return c.randomUUID().replace(/-/g, "");
  const bytes = new Uint8Array(16);
  if (c && c.getRandomValues) c.getRandomValues(bytes);
  else for (let i = 0; i < 16; i++) bytes[i] = Math.floor(Math.random() * 256);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Send one client frame on a socket. */
function sendFrame(ws, type, fields = {}) {
  const body = { type };
  for (const [k, v] of Object.entries(fields)) if (v !== undefined && v !== null) body[k] = v;
  ws.send(JSON.stringify(body));
}

/** @returns {Promise<any>} the JSON body; rejects with FrontdeskError from problem+json. */
async function fetchJson(url, init) {
  let resp;
  try {
    resp = await fetch(url, init);
  } catch (err) {
    throw new FrontdeskError("unavailable", `cannot reach ${url}: ${err && err.message}`);
  }
  let body = null;
  try {
    body = await resp.json();
  } catch {
    body = null;
  }
  if (!resp.ok) {
    const code = (body && body.code) || (resp.status === 401 ? "unauthenticated" : "error");
    throw new FrontdeskError(code, (body && (body.detail || body.title)) || `HTTP ${resp.status}`, {
      status: resp.status,
    });
  }
  return body;
}

/**
 * Sign in an agent: POST {baseUrl}/v1/session.
 * @param {{baseUrl: string, username: string, password: string}} opts
 * @returns {Promise<{token: string, username: string, display_name: string, expires_at: string}>}
 */
export async function login({ baseUrl, username, password }) {
  return fetchJson(new URL("/v1/session", baseUrl).href, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username, password }),
    credentials: "same-origin",
  });
}

/**
 * Join with the join URL alone and a display name (the guest may wait in the lobby).
 * `media: false` makes a chat-only session (no peer connection is ever created).
 * @param {{joinUrl: string, displayName: string, media?: boolean}} opts
 * @returns {Promise<Meeting>}
 */
export async function join({ joinUrl, displayName, media = true }) {
  const m = new Meeting(rtcUrlForJoinUrl(joinUrl), [], { media });
  await m._open({ kind: "url", join_url: joinUrl, display_name: displayName });
  return m;
}

/**
 * Join with a guest token: GET the discovery URI (Bearer token), then the RTC URL it names.
 * `media: false` makes a chat-only session (no peer connection is ever created).
 * @param {{discoveryUri: string, token: string, media?: boolean}} opts
 * @returns {Promise<Meeting>}
 */
export async function joinWithToken({ discoveryUri, token, media = true }) {
  const disc = await fetchJson(discoveryUri, {
    headers: { Authorization: `Bearer ${token}` },
    credentials: "omit",
  });
  const m = new Meeting(disc.rtc_url, disc.ice_servers || [], { media });
  await m._open({ kind: "token", token });
  return m;
}

/**
 * Join a meeting as a signed-in user (organizer or agent).
 * @param {{baseUrl: string, meetingId: string, sessionToken: string, media?: boolean}} opts
 * @returns {Promise<Meeting>}
 */
export async function joinAsUser({ baseUrl, meetingId, sessionToken, media = true }) {
  const m = new Meeting(rtcUrl(baseUrl), [], { media });
  await m._open({ kind: "session", token: sessionToken, meeting_id: meetingId });
  return m;
}

/**
 * The cameras and microphones (labels appear once media permission was granted).
 * @returns {Promise<{audioinputs: MediaDeviceInfo[], videoinputs: MediaDeviceInfo[]}>}
 */
export async function listDevices() {
  const md = globalThis.navigator && globalThis.navigator.mediaDevices;
  if (!md || !md.enumerateDevices) return { audioinputs: [], videoinputs: [] };
  const all = await md.enumerateDevices();
  return {
    audioinputs: all.filter((d) => d.kind === "audioinput"),
    videoinputs: all.filter((d) => d.kind === "videoinput"),
  };
}

/** One participant session in a meeting. Get one from join / joinWithToken / joinAsUser. */
export class Meeting {
  /** @param {string} rtcUrl @param {object[]} iceServers @param {{media?: boolean}} [opts] */
  constructor(rtcUrl, iceServers, { media = true } = {}) {
    this.rtcUrl = rtcUrl;
    /** false: a chat-only session (never a peer connection; shown to others as muted, camera off) */
    this.mediaEnabled = media !== false;
    /** @type {"connecting"|"lobby"|"joined"|"reconnecting"|"left"} */
    this.state = "connecting";
    this.participantId = null;
    this.me = null;
    this.info = null;
    /** @type {Map<string, object>} */
    this.roster = new Map();
    this.lobby = [];
    this.lobbyPosition = null;
    this.organizerPresent = null;
    this.lobbyTimeoutAt = null;
    this.chat = [];
    this.leftReason = null;
    this.iceServers = iceServers || [];
    this.lastSeq = 0;
    this.heartbeatS = 15;
    /** @type {MediaStream|null} */
    this.localStream = null;
    /** @type {Map<string, MediaStream>} */
    this.remoteStreams = new Map();
    this.audioMuted = !this.mediaEnabled;
    this.videoMuted = !this.mediaEnabled;
    this._listeners = new Map();
    this._pending = new Map(); // ref -> {type, fields, resolve, reject, retry, sentOn, timer}
    this._ws = null;
    this._gen = 0;
    this._resumeToken = null;
    this._timers = [];
    this._lastFrameAt = 0;
    this._lastError = null;
    this._peers = new Map(); // pid -> peer record
    this._asked = new Set(); // peers asked to offer ("renegotiate")
    this._overCap = new Set(); // peers left chat-only by MAX_PEERS
    this._media = { audio: true, video: true, audioDeviceId: undefined, videoDeviceId: undefined };
    this._admitted = new Promise((resolve, reject) => {
      this._admittedResolve = resolve;
      this._admittedReject = reject;
    });
    this._admitted.catch(() => {});
  }

  // --- events --------------------------------------------------------------------

  /**
   * Subscribe to a named event; returns the function that unsubscribes.
   * @param {string} name @param {(data: any) => void} callback @returns {() => void}
   */
  on(name, callback) {
    if (!this._listeners.has(name)) this._listeners.set(name, new Set());
    const set = this._listeners.get(name);
    set.add(callback);
    // Media that exists already is announced to a late listener (asynchronously,
    // like every other event, and only while it is still subscribed).
    const replay = (data) => queueMicrotask(() => {
      if (!set.has(callback)) return;
      try {
        callback(data);
      } catch (err) {
        console.error(`frontdesk: "${name}" listener failed`, err);
      }
    });
    if (name === "track") {
      for (const [participantId, stream] of this.remoteStreams) replay({ participantId, stream });
    } else if (name === "localstream" && this.localStream) {
      replay(this.localStream);
    }
    return () => set.delete(callback);
  }

  _emit(name, data) {
    for (const cb of [...(this._listeners.get(name) || [])]) {
      try {
        cb(data);
      } catch (err) {
        console.error(`frontdesk: "${name}" listener failed`, err);
      }
    }
  }

  _setState(state) {
    if (state === this.state) return;
    const previous = this.state;
    this.state = state;
    this._emit("state", { state, previous });
    if (state === "joined") this._admittedResolve(this);
  }

  /** Resolves when the session is in the meeting; rejects with the leave reason as code. */
  admitted() {
    return this._admitted;
  }

  // --- connection ----------------------------------------------------------------

  /** Open a socket, send hello, wait for welcome. Resolves with the welcome frame. */
  _connect(auth) {
    const WS = globalThis.WebSocket;
    if (!WS) return Promise.reject(new FrontdeskError("unavailable", "no WebSocket here"));
    return new Promise((resolve, reject) => {
      let ws;
      try {
        ws = new WS(this.rtcUrl);
      } catch (err) {
        reject(new FrontdeskError("unavailable", String(err && err.message)));
        return;
      }
      let done = false;
      let said = null;
      const timer = setTimeout(() => fail(new FrontdeskError("unavailable", "no welcome in time")), JOIN_TIMEOUT_MS);
      const fail = (err) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        try { ws.close(); } catch { /* closed already */ }
        reject(err);
      };
      ws.onopen = () => sendFrame(ws, "hello", { v: PROTOCOL_VERSION, auth, client: CLIENT_NAME });
      ws.onerror = () => {};
      ws.onclose = (ev) => {
        if (said) return fail(said);
        const code = ev.code;
        if (isFinalClose(code)) return fail(closeError(code));
        fail(new FrontdeskError("unavailable", `the connection closed during the handshake (${code})`));
      };
      ws.onmessage = (ev) => {
        let msg;
        try {
          msg = JSON.parse(ev.data);
        } catch {
          return;
        }
        if (msg.type === "welcome") {
          done = true;
          clearTimeout(timer);
          resolve({ ws, welcome: msg });
        } else if (msg.type === "error") {
          said = new FrontdeskError(msg.code, msg.message);
        } else if (msg.type === "bye") {
          said = new FrontdeskError(msg.reason, `the session ended: ${msg.reason}`, { final: true });
        }
      };
    });
  }

  async _open(auth) {
    const { ws, welcome } = await this._connect(auth);
    this._attach(ws, welcome);
  }

  _attach(ws, welcome) {
    this._gen += 1;
    const gen = this._gen;
    this._ws = ws;
    this._lastFrameAt = Date.now();
    ws.onmessage = (ev) => {
      if (gen !== this._gen) return;
      this._lastFrameAt = Date.now();
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch {
        return;
      }
      try {
        this._dispatch(msg);
      } catch (err) {
        console.error("frontdesk: handling a server message failed", msg && msg.type, err);
      }
    };
    ws.onclose = (ev) => {
      if (gen === this._gen) this._closed(ev.code);
    };
    ws.onerror = () => {};
    this._dispatch(welcome);
    this._startHeartbeat(gen);
    // requests waiting for a connection go out now; chat sends are re-sent (idempotent)
    for (const [ref, p] of this._pending) {
      if (p.sentOn && p.sentOn !== gen && !p.retry) {
        this._settle(ref, new FrontdeskError("unavailable", `the connection dropped during ${p.type}`));
      } else if (p.sentOn !== gen) {
        this._transmit(ref, p);
      }
    }
  }

  _startHeartbeat(gen) {
    this._clearTimers();
    const period = Math.max(1, this.heartbeatS) * 1000;
    this._timers.push(
      setInterval(() => {
        if (gen !== this._gen || !this._ws) return;
        if (Date.now() - this._lastFrameAt > period * 3) {
          this._drop(); // the socket looks dead: do not wait for TCP to notice
          return;
        }
        try {
          sendFrame(this._ws, "ping");
        } catch { /* the close handler resumes */ }
      }, period),
    );
  }

  _clearTimers() {
    for (const t of this._timers) clearInterval(t);
    this._timers = [];
  }

  /** Forget the current socket (it is dead) and resume. */
  _drop() {
    const ws = this._ws;
    this._gen += 1;
    this._ws = null;
    if (ws) {
      try { ws.close(); } catch { /* already closed */ }
    }
    this._resume();
  }

  _closed(code) {
    this._ws = null;
    this._clearTimers();
    if (this.state === "left") return;
    if (isFinalClose(code)) {
      const said = this._lastError;
      const err = said && closeCodeOf(said.code) === code ? said : closeError(code);
      this._finish(leaveReasonOf(code), err);
      return;
    }
    this._gen += 1;
    this._resume();
  }

  async _resume() {
    if (this._resuming || this.state === "left") return;
    this._resuming = true;
    this._clearTimers();
    const before = this.state;
    this._resumeState = before === "lobby" || before === "joined" ? before : this._resumeState;
    this._setState("reconnecting");
    const started = Date.now();
    try {
      for (let attempt = 1; ; attempt++) {
        const base = Math.min(RESUME_MAX_MS, RESUME_INITIAL_MS * 2 ** (attempt - 1));
        const delayMs = Math.round(base * (0.75 + Math.random() * 0.25));
        if (Date.now() + delayMs - started > RESUME_GIVE_UP_MS) {
          this._finish("connection_lost", new FrontdeskError("connection_lost", "could not reconnect"));
          return;
        }
        this._emit("reconnecting", { attempt, delayMs });
        await sleep(delayMs);
        if (this.state === "left") return;
        try {
          const auth = { kind: "resume", token: this._resumeToken, last_seq: this.lastSeq };
          const { ws, welcome } = await this._connect(auth);
          if (this.state === "left") {
            try { ws.close(); } catch { /* ignore */ }
            return;
          }
          this._attach(ws, welcome);
          return;
        } catch (err) {
          if (err instanceof FrontdeskError && err.code !== "unavailable") {
            const reason = LEAVE_REASONS.has(err.code) ? err.code : "connection_lost";
            this._finish(reason, err);
            return;
          }
        }
      }
    } finally {
      this._resuming = false;
    }
  }

  _finish(reason, error) {
    if (this.state === "left") return;
    this.leftReason = reason;
    this._clearTimers();
    this._gen += 1;
    const ws = this._ws;
    this._ws = null;
    if (ws) {
      try { ws.close(CLOSE.NORMAL); } catch { /* closed */ }
    }
    const err = error || new FrontdeskError(reason, `the session ended: ${reason}`);
    for (const [ref, p] of [...this._pending]) {
      // the bye of an end/leave may overtake its ok: that request did what it asked
      const done = (p.type === "end" && reason === "meeting_ended") || (p.type === "leave" && reason === "left");
      this._settle(ref, done ? {} : err, done);
    }
    this._closeAllPeers();
    this._stopLocal();
    this._setState("left");
    this._admittedReject(new FrontdeskError(reason, err.message));
    if (error && !LEAVE_REASONS.has(error.code)) this._emit("error", { code: error.code, message: error.message });
    this._emit("left", { reason });
  }

  // --- requests -------------------------------------------------------------------

  /** Send a request with a ref; resolves with the `result` of its `ok`. */
  _request(type, fields = {}, { retry = false } = {}) {
    if (this.state === "left") {
      return Promise.reject(new FrontdeskError(this.leftReason || "left", "the session has ended"));
    }
    const ref = newId().slice(0, 16);
    return new Promise((resolve, reject) => {
      const p = { type, fields, resolve, reject, retry, sentOn: 0, timer: null };
      p.timer = setTimeout(
        () => this._settle(ref, new FrontdeskError("unavailable", `no answer to ${type} in time`)),
        REQUEST_TIMEOUT_MS,
      );
      this._pending.set(ref, p);
      if (this._ws && this.state !== "reconnecting") this._transmit(ref, p);
    });
  }

  _transmit(ref, p) {
    if (!this._ws) return;
    try {
      sendFrame(this._ws, p.type, { ...p.fields, ref });
      p.sentOn = this._gen;
    } catch { /* sent again after resuming */ }
  }

  _settle(ref, errOrResult, ok = false) {
    const p = this._pending.get(ref);
    if (!p) return;
    this._pending.delete(ref);
    clearTimeout(p.timer);
    if (ok) p.resolve(errOrResult || {});
    else p.reject(errOrResult);
  }

  /** A frame without answer (typing, signal); dropped while disconnected. */
  _send(type, fields = {}) {
    if (!this._ws || this.state === "reconnecting" || this.state === "left") return false;
    try {
      sendFrame(this._ws, type, fields);
      return true;
    } catch {
      return false;
    }
  }

  // --- server messages ------------------------------------------------------------

  _dispatch(msg) {
    switch (msg.type) {
      case "welcome":
        this._onWelcome(msg);
        break;
      case "state":
        this._applySnapshot(msg.snapshot, { full: true });
        this._setState(msg.state);
        if (msg.state === "joined") this._afterJoined();
        break;
      case "event":
        if (typeof msg.seq !== "number" || msg.seq <= this.lastSeq) return; // exactly once
        this.lastSeq = msg.seq;
        this._onEvent(msg);
        this._emit("event", { seq: msg.seq, name: msg.name, at: msg.at, data: msg.data });
        break;
      case "typing":
        this._emit("typing", { participant_id: msg.participant_id, typing: msg.typing });
        break;
      case "signal":
        this._onSignal(msg.from, msg.kind, msg.data || {});
        break;
      case "ok":
        if (msg.ref) this._settle(msg.ref, msg.result || {}, true);
        break;
      case "error": {
        const err = new FrontdeskError(msg.code, msg.message);
        if (msg.ref && this._pending.has(msg.ref)) {
          this._settle(msg.ref, err);
        } else {
          this._lastError = err;
          this._emit("error", { code: msg.code, message: msg.message });
        }
        break;
      }
      case "pong":
        break;
      case "ping":
        this._send("ping");
        break;
      case "bye":
        this._finish(msg.reason, new FrontdeskError(msg.reason, `the session ended: ${msg.reason}`));
        break;
      default:
        break; // a newer server's message: ignored
    }
  }

  _onWelcome(w) {
    const resumed = !!w.resumed;
    this.participantId = w.participant_id;
    this._resumeToken = w.resume_token;
    this.heartbeatS = typeof w.heartbeat_s === "number" ? w.heartbeat_s : this.heartbeatS;
    if (Array.isArray(w.ice_servers) && w.ice_servers.length) this.iceServers = w.ice_servers;
    // On resume the missed events follow and are applied (and announced) one by one.
    this._applySnapshot(w.snapshot, { full: !resumed });
    const wasJoined = this.state === "joined" || this._resumeState === "joined";
    this._setState(w.state);
    if (w.state === "joined" && (!resumed || !wasJoined)) this._afterJoined();
    else if (w.state === "joined") {
      this._syncPeers();
      // signals sent while the socket was down are lost: renegotiate with fresh ICE
      for (const peer of this._peers.values()) this._recoverPeer(peer);
    }
  }

  _applySnapshot(s, { full }) {
    if (!s) return;
    this.info = s.meeting || this.info;
    this.me = s.me || this.me;
    this.roster = new Map((s.roster || []).map((p) => [p.id, { ...p }]));
    this.lobby = (s.lobby || []).map((e) => ({ ...e }));
    this.lobbyPosition = s.lobby_position ?? null;
    this.organizerPresent = s.organizer_present ?? null;
    this.lobbyTimeoutAt = s.timeout_at ?? null;
    if (full) {
      this._mergeChat(s.chat || [], false);
      if (typeof s.last_seq === "number") this.lastSeq = Math.max(this.lastSeq, s.last_seq);
    }
    this._emit("roster", this.roster);
    this._emit("lobby", this.lobby);
  }

  /** Add messages in seq order without duplicates; returns the new ones. */
  _mergeChat(messages, announce) {
    const seen = new Set(this.chat.map((c) => c.seq));
    const added = messages.filter((c) => !seen.has(c.seq) && (seen.add(c.seq), true));
    if (!added.length) return added;
    this.chat = this.chat.concat(added).sort((a, b) => a.seq - b.seq);
    if (announce) for (const c of added) this._emit("chat", c);
    return added;
  }

  _onEvent(e) {
    const d = e.data || {};
    switch (e.name) {
      case "participant_waiting": {
        const p = d.participant;
        this.lobby = this.lobby.filter((x) => x.participant_id !== p.id).concat([{
          participant_id: p.id,
          display_name: p.display_name,
          role: p.role,
          method: p.method,
          vouched: p.vouched,
          state: p.state,
          waiting_since: p.lobby_since,
          timeout_at: null,
        }]);
        this._emit("lobby", this.lobby);
        break;
      }
      case "lobby_position":
        if (d.participant_id === this.participantId) {
          this.lobbyPosition = d.position;
          this.organizerPresent = d.organizer_present;
          this.lobbyTimeoutAt = d.timeout_at;
        }
        break;
      case "participant_admitted":
      case "participant_denied":
        this._dropFromLobby(d.participant_id);
        break;
      case "participant_joined": {
        const p = d.participant;
        this._dropFromLobby(p.id);
        this.roster.set(p.id, { ...p, state: "joined" });
        if (p.id === this.participantId) this.me = { ...p, state: "joined" };
        this._emit("roster", this.roster);
        this._syncPeers();
        break;
      }
      case "participant_left":
        this._dropFromLobby(d.participant_id);
        if (this.roster.delete(d.participant_id)) this._emit("roster", this.roster);
        if (d.participant_id === this.participantId) this.leftReason = d.reason;
        else {
          this._closePeer(d.participant_id);
          this._syncPeers(); // a freed slot goes to someone left chat-only by the cap
        }
        break;
      case "participant_reconnecting":
      case "participant_reconnected": {
        const state = e.name === "participant_reconnecting" ? "reconnecting" : null;
        const r = this.roster.get(d.participant_id);
        if (r) {
          r.state = state || "joined";
          this._emit("roster", this.roster);
        }
        const l = this.lobby.find((x) => x.participant_id === d.participant_id);
        if (l) {
          l.state = state || "lobby";
          this._emit("lobby", this.lobby);
        }
        if (!state && r) {
          this._syncPeers();
          // what I sent while it was away is lost: an unanswered offer goes again
          const peer = this._peers.get(d.participant_id);
          if (peer) this._resendOffer(peer);
        }
        break;
      }
      case "media_changed": {
        const r = this.roster.get(d.participant_id);
        const fields = { audio_muted: !!d.audio_muted, video_muted: !!d.video_muted, hand_raised: !!d.hand_raised };
        if (r) Object.assign(r, fields);
        if (d.participant_id === this.participantId) {
          this.me = { ...(this.me || {}), ...fields };
          if (fields.audio_muted && !this.audioMuted && d.by !== this.participantId) {
            this._applyAudio(true); // a moderator muted me: really stop sending
          }
        }
        this._emit("roster", this.roster);
        this._emit("media", { participantId: d.participant_id, ...fields });
        break;
      }
      case "chat_message":
        this._mergeChat([{
          seq: e.seq,
          participant_id: d.participant_id,
          display_name: d.display_name,
          text: d.text,
          client_msg_id: d.client_msg_id,
          at: e.at,
        }], true);
        break;
      case "policy_changed":
        this.info = { ...(this.info || {}), access_policy: d.access_policy, lobby_bypass: d.lobby_bypass };
        break;
      case "meeting_ended":
        this.info = { ...(this.info || {}), ended: true, state: "ended" };
        break;
      default:
        break;
    }
  }

  _dropFromLobby(pid) {
    const before = this.lobby.length;
    this.lobby = this.lobby.filter((x) => x.participant_id !== pid);
    if (this.lobby.length !== before) this._emit("lobby", this.lobby);
  }

  _afterJoined() {
    const me = this.me || {};
    const want = {};
    if (this.localStream || this.audioMuted || this.videoMuted) {
      if (!!me.audio_muted !== this.audioMuted) want.audio_muted = this.audioMuted;
      if (!!me.video_muted !== this.videoMuted) want.video_muted = this.videoMuted;
    }
    if (Object.keys(want).length) this._request("media", want).catch(() => {});
    this._syncPeers();
  }

  // --- chat and moderation ----------------------------------------------------------

  /**
   * Send a chat message; idempotent (a client id) and re-sent after a resume.
   * @param {string} text @returns {Promise<object>} the stored message
   */
  async sendChat(text) {
    const id = newId().slice(0, 32);
    const result = await this._request("chat", { id, text }, { retry: true });
    const msg = result.message;
    if (msg) this._mergeChat([msg], true);
    return msg;
  }

  /** Tell the others whether I am typing (no answer; lost while disconnected). */
  setTyping(typing) {
    if (this.state === "joined") this._send("typing", { typing: !!typing });
  }

  /** @param {string} pid */
  admit(pid) {
    return this._request("admit", { participant_id: pid });
  }

  /** @param {string} pid */
  deny(pid) {
    return this._request("deny", { participant_id: pid });
  }

  /** Mute another participant (moderators). @param {string} pid */
  mute(pid) {
    return this._request("mute", { participant_id: pid });
  }

  /** Remove a participant from the meeting (moderators). @param {string} pid */
  remove(pid) {
    return this._request("remove", { participant_id: pid });
  }

  /** End the meeting for everyone (moderators). */
  async end() {
    await this._request("end");
    await this._waitLeft(3000);
  }

  /** Leave the meeting; the session ends with reason "left". Idempotent. */
  async leave() {
    if (this.state === "left") return;
    if (this._ws && this.state !== "reconnecting") {
      try {
        await this._request("leave");
        await this._waitLeft(3000);
      } catch { /* ending anyway */ }
    }
    this._finish("left", null);
  }

  _waitLeft(ms) {
    if (this.state === "left") return Promise.resolve();
    return new Promise((resolve) => {
      const off = this.on("left", () => { off(); clearTimeout(t); resolve(); });
      const t = setTimeout(() => { off(); resolve(); }, ms);
    });
  }

  /**
   * Load chat messages older than the oldest one held (50 at a time).
   * @returns {Promise<object[]>} the messages added
   */
  async loadOlder(limit = 50) {
    const before = this.chat.length ? this.chat[0].seq : this.lastSeq + 1;
    const result = await this._request("history", { before_seq: before, limit });
    return this._mergeChat(result.messages || [], false);
  }

  // --- media ------------------------------------------------------------------------

  /** @param {string} pid @returns {RTCPeerConnection|null} */
  peerConnection(pid) {
    const peer = this._peers.get(pid);
    return peer ? peer.pc : null;
  }

  /**
   * Acquire camera and microphone and publish them to every joined participant.
   * `audioMuted` starts with the microphone muted (opened, nothing sent);
   * `videoMuted` starts with the camera off: it is not even opened until
   * `setVideoMuted(false)`. Both are applied before anything is published.
   * Rejects with FrontdeskError("media_unavailable") and the session continues chat-only.
   * @param {{audio?: boolean, video?: boolean, audioMuted?: boolean, videoMuted?: boolean,
   *          audioDeviceId?: string, videoDeviceId?: string}} [opts]
   * @returns {Promise<MediaStream>}
   */
  async startMedia(opts = {}) {
    if (!this.mediaEnabled) {
      throw new FrontdeskError("media_unavailable", "this session was joined with media: false (chat only)");
    }
    const o = { audio: true, video: true, audioMuted: false, videoMuted: false, ...opts };
    this._media = o;
    const wantVideo = o.video && !o.videoMuted;
    let stream = null;
    if (!o.audio && !wantVideo) {
      if (!o.video) {
        this._emit("error", { code: "media_unavailable", message: "no media requested" });
        throw new FrontdeskError("media_unavailable", "camera and microphone are unavailable (no media requested)");
      }
      stream = new MediaStream(); // camera off, no microphone: receive only until the camera goes on
    } else {
      const attempts = [[o.audio, wantVideo]];
      if (o.audio && wantVideo) attempts.push([true, false], [false, true]);
      let lastErr = null;
      for (const [a, v] of attempts) {
        try {
          stream = await getUserMedia(a && audioConstraint(o.audioDeviceId), v && videoConstraint(o.videoDeviceId));
          break;
        } catch (err) {
          lastErr = err;
        }
      }
      if (!stream) {
        const why = lastErr ? `${lastErr.name || "Error"}: ${lastErr.message}` : "no media requested";
        this._emit("error", { code: "media_unavailable", message: why });
        throw new FrontdeskError("media_unavailable", `camera and microphone are unavailable (${why})`);
      }
    }
    this._stopLocal();
    this.localStream = stream;
    const audio = stream.getAudioTracks()[0] || null;
    const video = stream.getVideoTracks()[0] || null;
    // a fresh start: muted when asked to, or when a device is missing
    this.audioMuted = !audio || !!o.audioMuted;
    this.videoMuted = !video || !!o.videoMuted;
    if (audio) audio.enabled = !this.audioMuted;
    this._emit("localstream", stream);
    this._publish();
    if (this.state === "joined") this._afterJoined();
    return stream;
  }

  /** Stop or resume sending audio (the sender sends nothing while muted). */
  async setAudioMuted(muted) {
    this._applyAudio(!!muted);
    if (this.state === "joined") await this._request("media", { audio_muted: !!muted });
  }

  _applyAudio(muted) {
    this.audioMuted = muted;
    const track = this.localStream && this.localStream.getAudioTracks()[0];
    if (track) track.enabled = !muted;
    this._publish();
  }

  /** Camera off (stops sending and releases the camera) or on (re-acquires it). */
  async setVideoMuted(muted) {
    muted = !!muted;
    if (muted) {
      this.videoMuted = true;
      this._releaseVideo();
      this._publish();
    } else {
      await this._acquireVideo(this._media.videoDeviceId);
      this.videoMuted = false;
      this._publish();
    }
    if (this.state === "joined") await this._request("media", { video_muted: muted });
  }

  /**
   * Use another camera: the given one, or the next one in the device list. The
   * current camera keeps sending until the new one is open; if the new one cannot
   * be opened, the current one stays (or is reopened) and this rejects.
   * @param {string} [deviceId]
   */
  async switchCamera(deviceId) {
    const current = this.localStream && this.localStream.getVideoTracks()[0];
    const currentId = current && current.getSettings ? current.getSettings().deviceId : undefined;
    let id = deviceId;
    if (!id) {
      const { videoinputs } = await listDevices();
      if (!videoinputs.length) throw new FrontdeskError("media_unavailable", "no camera");
      const i = videoinputs.findIndex((d) => d.deviceId === (currentId || this._media.videoDeviceId));
      id = videoinputs[(i + 1) % videoinputs.length].deviceId;
    }
    if (this.videoMuted) {
      this._media = { ...this._media, videoDeviceId: id }; // used when the camera is turned on again
      return;
    }
    let track;
    try {
      track = await openVideo(id);
    } catch (first) {
      const busy = first && (first.name === "NotReadableError" || first.name === "AbortError");
      if (!busy || !current) {
        // the camera is gone or refused: the current one never stopped sending
        throw new FrontdeskError("media_unavailable", `cannot switch to that camera (${first && first.name})`);
      }
      // Phones cannot open two cameras at once: free this one and try again.
      this._releaseVideo();
      try {
        track = await openVideo(id);
      } catch (err) {
        try {
          if (current) this._putVideo(await openVideo(currentId));
        } catch { /* the old camera is gone too: camera stays off */ }
        this._publish();
        throw new FrontdeskError("media_unavailable", `cannot switch to that camera (${err && err.name})`);
      }
    }
    this._media = { ...this._media, videoDeviceId: id };
    this._putVideo(track);
    this._publish();
  }

  _releaseVideo() {
    const s = this.localStream;
    if (!s) return;
    for (const t of s.getVideoTracks()) {
      t.stop();
      s.removeTrack(t);
    }
    this._emit("localstream", s);
  }

  async _acquireVideo(deviceId) {
    let track;
    try {
      track = await openVideo(deviceId);
    } catch (err) {
      throw new FrontdeskError("media_unavailable", `the camera is unavailable (${err && err.name})`);
    }
    this._putVideo(track);
  }

  /** Make `track` the local video track (stopping any other). */
  _putVideo(track) {
    if (!this.localStream) this.localStream = new MediaStream();
    for (const t of this.localStream.getVideoTracks()) {
      t.stop();
      this.localStream.removeTrack(t);
    }
    this.localStream.addTrack(track);
    this._emit("localstream", this.localStream);
  }

  _stopLocal() {
    if (!this.localStream) return;
    for (const t of this.localStream.getTracks()) t.stop();
  }

  /** The tracks each sender should carry right now (null: send nothing). */
  _tracks() {
    const s = this.localStream;
    const audio = s && !this.audioMuted ? s.getAudioTracks()[0] || null : null;
    const video = s && !this.videoMuted ? s.getVideoTracks()[0] || null : null;
    return { audio, video };
  }

  /** Put the current tracks on every peer's senders, and connect to new peers. */
  _publish() {
    for (const peer of this._peers.values()) this._attachLocal(peer);
    this._syncPeers();
  }

  _attachLocal(peer) {
    const tracks = this._tracks();
    for (const t of peer.pc.getTransceivers()) {
      const kind = t.receiver && t.receiver.track && t.receiver.track.kind;
      if (!kind || t.stopped || t.currentDirection === "stopped") continue;
      if (t.direction !== "sendrecv") t.direction = "sendrecv";
      const track = tracks[kind] || null;
      if (t.sender.track !== track) t.sender.replaceTrack(track).catch((err) => console.error("frontdesk: replaceTrack", err));
    }
  }

  /** One connection per remote joined participant once either side has media. */
  _syncPeers() {
    if (!this.mediaEnabled || this.state !== "joined" || !this.localStream) return;
    for (const p of this.roster.values()) {
      if (p.id === this.participantId || p.state !== "joined" || this._peers.has(p.id)) continue;
      if (!this._roomFor(p.id)) continue;
      if (this.participantId < p.id) this._createPeer(p.id, true);
      else if (!this._asked.has(p.id) && this._send("signal", { to: p.id, kind: "renegotiate", data: {} })) {
        this._asked.add(p.id); // the smaller id makes the first offer
      }
    }
  }

  /** Whether one more peer connection (to `pid`) fits under MAX_PEERS; warns once if not. */
  _roomFor(pid) {
    if (this._peers.size < MAX_PEERS) {
      if (this._overCap.delete(pid)) this._asked.delete(pid);
      return true;
    }
    if (!this._overCap.has(pid)) {
      this._overCap.add(pid);
      const p = this.roster.get(pid);
      console.warn(`frontdesk: ${MAX_PEERS} media connections already: ${(p && p.display_name) || pid} is chat-only`);
      this._emit("mediacap", { participantId: pid, max: MAX_PEERS });
    }
    return false;
  }

  _createPeer(pid, offerer) {
    const RTC = globalThis.RTCPeerConnection;
    if (!RTC || !this.mediaEnabled || !this._roomFor(pid)) return null;
    const pc = new RTC({ iceServers: this.iceServers });
    const peer = {
      pid, pc, polite: this.participantId > pid, makingOffer: false, ignoreOffer: false,
      queue: Promise.resolve(), iceTimer: null,
    };
    this._peers.set(pid, peer);
    pc.onicecandidate = ({ candidate }) => {
      // toJSON() carries sdpMid, sdpMLineIndex and usernameFragment (which ICE
      // generation the candidate belongs to, after a restart)
      const data = candidate ? candidate.toJSON() : {};
      this._send("signal", { to: pid, kind: "candidate", data });
    };
    pc.onnegotiationneeded = async () => {
      try {
        peer.makingOffer = true;
        await pc.setLocalDescription();
        const d = pc.localDescription;
        this._send("signal", { to: pid, kind: d.type, data: { type: d.type, sdp: d.sdp } });
      } catch (err) {
        console.error("frontdesk: making an offer failed", err);
      } finally {
        peer.makingOffer = false;
      }
    };
    pc.ontrack = ({ track }) => {
      let stream = this.remoteStreams.get(pid);
      if (!stream) {
        stream = new MediaStream();
        this.remoteStreams.set(pid, stream);
      }
      if (stream.getTracks().includes(track)) return;
      // one track per kind: a new connection's track replaces the old one's
      for (const t of stream.getTracks()) if (t.kind === track.kind) stream.removeTrack(t);
      stream.addTrack(track);
      this._emit("track", { participantId: pid, stream });
    };
    pc.oniceconnectionstatechange = () => {
      const st = pc.iceConnectionState;
      clearTimeout(peer.iceTimer);
      peer.iceTimer = null;
      if (st === "failed") this._restartIce(peer);
      else if (st === "disconnected") {
        peer.iceTimer = setTimeout(() => {
          peer.iceTimer = null;
          if (pc.iceConnectionState === "disconnected") this._restartIce(peer);
        }, ICE_DISCONNECTED_MS);
      }
    };
    if (offerer) {
      const tracks = this._tracks();
      const streams = this.localStream ? [this.localStream] : [];
      pc.addTransceiver(tracks.audio || "audio", { direction: "sendrecv", streams });
      pc.addTransceiver(tracks.video || "video", { direction: "sendrecv", streams });
    }
    return peer;
  }

  _onSignal(from, kind, data) {
    // chat-only: no connection, no answer (the protocol has no way to decline)
    if (this.state === "left" || !this.mediaEnabled) return;
    let peer = this._peers.get(from);
    if (kind === "renegotiate") {
      if (!peer) this._createPeer(from, true);
      else if (peer.polite) return; // only the impolite side makes the offers asked for
      else if (peer.pc.signalingState === "stable") {
        if (data && data.ice_restart) peer.pc.restartIce(); // fires negotiationneeded
        else peer.pc.onnegotiationneeded();
      } else {
        // our offer went unheard (the other side started media later, or it was
        // lost in a socket drop): send it again, with the candidates gathered so far
        this._resendOffer(peer);
      }
      return;
    }
    if (!peer) {
      if (kind !== "offer") return; // stale candidate/answer for a closed connection
      peer = this._createPeer(from, false);
      if (!peer) return;
    }
    // one signal at a time per peer, in arrival order
    peer.queue = peer.queue.then(() => this._handleSignal(peer, kind, data)).catch((err) => {
      console.error(`frontdesk: signal ${kind} from ${from} failed`, err);
    });
  }

  async _handleSignal(peer, kind, data) {
    const pc = peer.pc;
    if (pc.signalingState === "closed") return;
    if (kind === "answer" && pc.signalingState !== "have-local-offer") {
      return; // a stale or duplicate answer (e.g. to an offer sent twice)
    }
    const remote = pc.remoteDescription;
    if ((kind === "offer" || kind === "answer") && remote && remote.sdp &&
        fingerprintOf(data.sdp) && fingerprintOf(data.sdp) !== fingerprintOf(remote.sdp)) {
      // The other side started over with a new connection (the Python SDK does,
      // e.g. on an ICE restart): so do we, rather than fail on a DTLS change.
      const fresh = this._replacePeer(peer, kind === "answer");
      if (fresh && kind === "offer") await this._handleSignal(fresh, kind, data);
      return;
    }
    if (kind === "offer" || kind === "answer") {
      const collision = kind === "offer" && (peer.makingOffer || pc.signalingState !== "stable");
      peer.ignoreOffer = !peer.polite && collision;
      if (peer.ignoreOffer) return;
      await pc.setRemoteDescription({ type: data.type || kind, sdp: data.sdp });
      if (kind === "offer") {
        this._attachLocal(peer);
        await pc.setLocalDescription();
        const d = pc.localDescription;
        this._send("signal", { to: peer.pid, kind: "answer", data: { type: d.type, sdp: d.sdp } });
      }
    } else if (kind === "candidate") {
      try {
        if (data && data.candidate) await pc.addIceCandidate(data);
        else await pc.addIceCandidate();
      } catch (err) {
        if (!peer.ignoreOffer) console.warn("frontdesk: ICE candidate rejected", err);
      }
    }
  }

  /** An offer of mine still unanswered goes again (it may have been lost). */
  _resendOffer(peer) {
    const pc = peer.pc;
    if (pc.signalingState !== "have-local-offer" || peer.makingOffer || !pc.localDescription) return;
    const d = pc.localDescription;
    this._send("signal", { to: peer.pid, kind: d.type, data: { type: d.type, sdp: d.sdp } });
  }

  /** ICE failed or stayed disconnected: the impolite side restarts, the polite one asks. */
  _restartIce(peer) {
    if (peer.pc.signalingState === "closed" || this._peers.get(peer.pid) !== peer) return;
    if (peer.polite) this._send("signal", { to: peer.pid, kind: "renegotiate", data: { ice_restart: true } });
    else peer.pc.restartIce();
  }

  /**
   * After this session resumed: signals may have been lost while the socket was
   * down. A negotiation in progress is pushed on; a connection whose ICE never
   * completed (candidates lost) restarts ICE; a working one is left alone.
   */
  _recoverPeer(peer) {
    const pc = peer.pc;
    if (pc.signalingState === "closed") return;
    const iceUp = pc.iceConnectionState === "connected" || pc.iceConnectionState === "completed";
    if (pc.signalingState === "have-local-offer") this._resendOffer(peer);
    if (peer.polite && (pc.signalingState !== "stable" || !iceUp)) {
      this._send("signal", { to: peer.pid, kind: "renegotiate", data: { ice_restart: !iceUp } });
    } else if (!peer.polite && pc.signalingState === "stable" && !iceUp) {
      pc.restartIce();
    }
  }

  /** A new connection to the same peer in place of `peer` (an offerer: it offers at once). */
  _replacePeer(peer, offerer) {
    this._peers.delete(peer.pid);
    clearTimeout(peer.iceTimer);
    try { peer.pc.close(); } catch { /* closed */ }
    const fresh = this._createPeer(peer.pid, offerer);
    if (fresh) fresh.queue = peer.queue;
    return fresh;
  }

  _closePeer(pid) {
    this._asked.delete(pid);
    this._overCap.delete(pid);
    const peer = this._peers.get(pid);
    if (peer) {
      this._peers.delete(pid);
      clearTimeout(peer.iceTimer);
      try { peer.pc.close(); } catch { /* closed */ }
    }
    if (this.remoteStreams.delete(pid) || peer) this._emit("trackended", { participantId: pid });
  }

  _closeAllPeers() {
    for (const pid of [...this._peers.keys()]) this._closePeer(pid);
  }
}

/** Also available as a static helper. */
Meeting.listDevices = listDevices;

function audioConstraint(deviceId) {
  return deviceId ? { deviceId: { exact: deviceId } } : true;
}

function videoConstraint(deviceId) {
  const base = { width: { ideal: 640 }, height: { ideal: 480 } };
  return deviceId ? { ...base, deviceId: { exact: deviceId } } : { ...base, facingMode: "user" };
}

/** Open one camera; resolves with its video track. */
async function openVideo(deviceId) {
  const got = await getUserMedia(false, videoConstraint(deviceId));
  return got.getVideoTracks()[0];
}

async function getUserMedia(audio, video) {
  const md = globalThis.navigator && globalThis.navigator.mediaDevices;
  if (!md || !md.getUserMedia) throw new FrontdeskError("media_unavailable", "no media devices here");
  return md.getUserMedia({ audio: audio || false, video: video || false });
}

/** The DTLS fingerprint of an SDP (the identity of the other end's connection). */
function fingerprintOf(sdp) {
  const m = /^a=fingerprint:(.+)$/m.exec(String(sdp || ""));
  return m ? m[1].trim() : null;
}

function closeError(code) {
  return new FrontdeskError(closeErrorCode(code), `the server closed the connection (${code})`);
}
