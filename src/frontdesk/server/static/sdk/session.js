/**
 * The connection of a Meeting (like the Python SDK's `_session.py`): the socket,
 * hello and auth, the heartbeat, resume with the resume token and last_seq after
 * a drop (exponential back-off with jitter, given up after RESUME_GIVE_UP_MS),
 * the end of the session, and requests matched to their `ok` / `error` by `ref`.
 *
 * In a cluster each meeting is hosted by one node at a time. A node that does not
 * host it answers the hello with the error `wrong_node` and the `rtc_url` of the
 * node that does: the session connects there at once (no back-off), at most
 * MAX_REDIRECTS times per attempt, and keeps that URL (`meeting.rtcUrl`). When
 * connecting to the current URL fails (its node died, or drains), the next
 * attempt starts from "home" again (`meeting._home()`, set by join.js:
 * discovery again for token joins, else the public RTC URL), so a dead node's
 * URL is never retried for long.
 *
 * Close codes and leave reasons come from the generated protocol.js.
 */

import { FrontdeskError } from "./errors.js";
import {
  CLOSE,
  LEAVE_REASONS as LEAVE_REASON_LIST,
  PROTOCOL_VERSION,
  closeCodeOf,
  closeErrorCode,
} from "./protocol.js";

const CLIENT_NAME = "frontdesk-js/1";
const REQUEST_TIMEOUT_MS = 15000;
const JOIN_TIMEOUT_MS = 15000;
// Resume back-off, the same as the Python SDK's ReconnectPolicy: 100 ms doubling,
// each delay shortened by up to half (jitter), capped at 1 s for the first 10 s
// after the drop and at 5 s after that. In a cluster a dead node's meetings are
// taken over once its lease runs out (~3 s) and a client must be back within 5 s:
// a 1 s cap puts an attempt at most 1 s after the takeover. An outage longer
// than 10 s is not a takeover, so the attempts thin out.
const RESUME_INITIAL_MS = 100;
const RESUME_FAST_MAX_MS = 1000;
const RESUME_FAST_FOR_MS = 10000;
const RESUME_MAX_MS = 5000;
const RESUME_GIVE_UP_MS = 60000;
/** `wrong_node` redirects followed within one connection attempt. */
export const MAX_REDIRECTS = 3;
/** How often a first join answered `unavailable` is tried again. */
export const OPEN_RETRIES = 4;
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

/** A random hex id (refs, chat message ids). */
export function newId() {
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

function closeError(code) {
  return new FrontdeskError(closeErrorCode(code), `the server closed the connection (${code})`);
}

/** The pause before resume attempt `attempt` (1, 2, ...), `elapsedMs` after the drop. */
export function resumeDelayMs(attempt, elapsedMs) {
  const cap = elapsedMs < RESUME_FAST_FOR_MS ? RESUME_FAST_MAX_MS : RESUME_MAX_MS;
  const base = Math.min(cap, RESUME_INITIAL_MS * 2 ** Math.min(attempt - 1, 30));
  return Math.round(base * (1 - 0.5 * Math.random()));
}

/**
 * The `rtc_url` a `wrong_node` error (received at `current`) points at. Only
 * ws:// and wss:// URLs are followed, never from wss:// to ws:// (the next hello
 * carries a token): anything else is a protocol_error. Without one: unavailable
 * (the next attempt starts from home).
 */
export function redirectTarget(err, current) {
  const target = err && err.rtcUrl;
  if (!target) {
    throw new FrontdeskError("unavailable", "the node does not host the meeting and did not say which does");
  }
  let parsed;
  try {
    parsed = new URL(String(target));
  } catch {
    throw new FrontdeskError("protocol_error", "the server redirected to something that is not a URL");
  }
  if ((parsed.protocol !== "ws:" && parsed.protocol !== "wss:") || !parsed.hostname) {
    throw new FrontdeskError(
      "protocol_error",
      `the server redirected to a ${parsed.protocol} URL; only ws:// and wss:// URLs are followed`,
    );
  }
  if (parsed.protocol === "ws:" && String(current).startsWith("wss:")) {
    throw new FrontdeskError("protocol_error", "the server redirected from wss:// to ws://; not followed");
  }
  return String(target);
}

/** Methods installed on Meeting.prototype (meeting.js). */
export class SessionMixin {
  /**
   * One attempt: a handshake at the current URL (or at home, `rehome`), following
   * up to MAX_REDIRECTS `wrong_node` answers at once. The URL that welcomed the
   * session becomes `this.rtcUrl`. Resolves with `{ws, welcome}`.
   */
  async _connect(auth, { rehome = false } = {}) {
    let url = rehome ? await this._findHome() : this.rtcUrl;
    const tried = [url];
    for (;;) {
      let got;
      try {
        got = await this._handshake(url, auth);
      } catch (err) {
        if (!(err instanceof FrontdeskError) || err.code !== "wrong_node") throw err;
        const target = redirectTarget(err, url);
        if (tried.length > MAX_REDIRECTS) {
          throw new FrontdeskError(
            "unavailable",
            `redirected ${MAX_REDIRECTS} times and still not at the meeting's node`,
            { tooManyRedirects: true, rtcUrls: [...tried, target] },
          );
        }
        tried.push(target);
        url = target;
        continue;
      }
      this.rtcUrl = url;
      return got;
    }
  }

  /** Where the meeting is hosted, found again (the current URL if that fails). */
  async _findHome() {
    if (typeof this._home !== "function") return this.rtcUrl;
    try {
      return (await this._home()) || this.rtcUrl;
    } catch {
      return this.rtcUrl;
    }
  }

  /** A `wrong_node` error while connected: the room moved; resume where it went. */
  _moved(err) {
    try {
      this.rtcUrl = redirectTarget(err, this.rtcUrl);
    } catch { /* not followable: the resume starts at home after a failure */ }
  }

  /** Open a socket at `url`, send hello, wait for welcome. Resolves with `{ws, welcome}`. */
  _handshake(url, auth) {
    const WS = globalThis.WebSocket;
    if (!WS) return Promise.reject(new FrontdeskError("unavailable", "no WebSocket here"));
    return new Promise((resolve, reject) => {
      let ws;
      try {
        ws = new WS(url);
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
      // browsers follow an error with a close event; some runtimes (Node's) do
      // not when the connection is refused, so an error ends the attempt here
      ws.onerror = () => fail(said || new FrontdeskError("unavailable", "cannot connect to the rtc endpoint"));
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
          said = new FrontdeskError(msg.code, msg.message, msg.rtc_url ? { rtcUrl: msg.rtc_url } : undefined);
        } else if (msg.type === "bye") {
          said = new FrontdeskError(msg.reason, `the session ended: ${msg.reason}`, { final: true });
        }
      };
    });
  }

  /**
   * The first join. `unavailable` (the node or its database is busy, or the
   * connection failed) is tried again OPEN_RETRIES times with the resume
   * back-off, from home again; `wrong_node` redirects are followed at once.
   */
  async _open(auth) {
    const started = Date.now();
    for (let attempt = 1; ; attempt++) {
      try {
        const { ws, welcome } = await this._connect(auth, { rehome: attempt > 1 });
        this._attach(ws, welcome);
        return;
      } catch (err) {
        if (!(err instanceof FrontdeskError) || err.code !== "unavailable" || attempt > OPEN_RETRIES) throw err;
        await sleep(resumeDelayMs(attempt, Date.now() - started));
      }
    }
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
    let rehome = false; // the first attempt goes to the current node (it may redirect)
    try {
      for (let attempt = 1; ; attempt++) {
        const delayMs = resumeDelayMs(attempt, Date.now() - started);
        if (Date.now() + delayMs - started > RESUME_GIVE_UP_MS) {
          this._finish("connection_lost", new FrontdeskError("connection_lost", "could not reconnect"));
          return;
        }
        this._emit("reconnecting", { attempt, delayMs });
        await sleep(delayMs);
        if (this.state === "left") return;
        try {
          const auth = { kind: "resume", token: this._resumeToken, last_seq: this.lastSeq };
          const { ws, welcome } = await this._connect(auth, { rehome });
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
          rehome = true; // that node is gone or busy: find the meeting's node again
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
}
