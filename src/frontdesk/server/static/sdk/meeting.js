/**
 * The Meeting object (like the Python SDK's `_meeting.py`): the session state,
 * the roster, the lobby and the chat folded from snapshots and sequenced events
 * (exactly once, by seq), and the moderation actions. The connection, chat,
 * local media and the peer mesh are methods of their own modules (session.js,
 * chat.js, devices.js, mesh.js), installed on Meeting.prototype below, so a
 * Meeting stays one object with one set of fields.
 */

import { ChatMixin } from "./chat.js";
import { DevicesMixin, listDevices } from "./devices.js";
import { FrontdeskError } from "./errors.js";
import { EventsMixin } from "./events.js";
import { MeshMixin } from "./mesh.js";
import { SfuMixin } from "./sfu.js";
import { ScreenMixin } from "./screen.js";
import { SessionMixin } from "./session.js";

/** One participant session in a meeting. Get one from join / joinWithToken / joinAsUser. */
export class Meeting {
  /**
   * @param {string} rtcUrl where to connect first
   * @param {object[]} iceServers
   * @param {{media?: boolean, home?: () => Promise<string>}} [opts] `home` finds
   *   the node hosting the meeting again when the one the session was on is gone
   */
  constructor(rtcUrl, iceServers, { media = true, home = null } = {}) {
    /** The RTC URL of the node the session is on (follows the cluster's redirects). */
    this.rtcUrl = rtcUrl;
    this._home = home;
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
    this.visitPosition = null; // helpdesk visits: {visit_id, state, position, estimated_wait_s}
    this.organizerPresent = null;
    this.lobbyTimeoutAt = null;
    this.chat = [];
    /** true once `loadOlder` reached the first message the meeting keeps. */
    this.chatComplete = false;
    /** Whispers among agents and supervisors (never sent to a guest). */
    this.whispers = [];
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
    this._screenTrack = null; // a shared screen, sent in the camera's place
    this._asked = new Set(); // peers asked to offer ("renegotiate")
    this._overCap = new Set(); // peers left chat-only by MAX_PEERS
    this._media = { audio: true, video: true, audioDeviceId: undefined, videoDeviceId: undefined };
    this._admitted = new Promise((resolve, reject) => {
      this._admittedResolve = resolve;
      this._admittedReject = reject;
    });
    this._admitted.catch(() => {});
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
      case "sfu_route":
        this._onSfuRoute(msg);
        break;
      case "sfu_trickle":
        this._onSfuTrickle(msg);
        break;
      case "visit_position":
        // a helpdesk visit: state, place in the queue, estimate (null: unknown)
        this.visitPosition = {
          visit_id: msg.visit_id,
          state: msg.state,
          position: msg.position ?? null,
          estimated_wait_s: msg.estimated_wait_s ?? null,
        };
        this._emit("visit_position", { ...this.visitPosition });
        break;
      case "ok":
        if (msg.ref) this._settle(msg.ref, msg.result || {}, true);
        break;
      case "error": {
        const err = new FrontdeskError(msg.code, msg.message, msg.rtc_url ? { rtcUrl: msg.rtc_url } : undefined);
        if (msg.ref && this._pending.has(msg.ref)) {
          this._settle(msg.ref, err);
        } else if (msg.code === "wrong_node") {
          this._lastError = err;
          this._moved(err); // a routing detail the session handles (it resumes there)
        } else {
          this._lastError = err;
          this._emit("error", { code: msg.code, message: msg.message });
        }
        break;
      }
      case "pong":
        // a fresh single-use resume token, once the current one is half spent
        if (typeof msg.resume_token === "string" && msg.resume_token) this._resumeToken = msg.resume_token;
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
      this._mergeWhispers(s.whispers || [], false);
      if (typeof s.last_seq === "number") this.lastSeq = Math.max(this.lastSeq, s.last_seq);
    }
    this._emit("roster", this.roster);
    this._emit("lobby", this.lobby);
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
          ...(p.visit_id ? { visit_id: p.visit_id } : {}),
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
        const fields = {
          audio_muted: !!d.audio_muted, video_muted: !!d.video_muted, hand_raised: !!d.hand_raised,
          screen_sharing: !!d.screen_sharing, // its video is a shared screen
        };
        if (r) Object.assign(r, fields);
        if (d.participant_id === this.participantId) {
          this.me = { ...(this.me || {}), ...fields };
          if (fields.audio_muted && !this.audioMuted && d.by !== this.participantId) {
            this._applyAudio(true); // a moderator muted me: really stop sending
          }
        }
        this._emit("roster", this.roster);
        // `by`: who changed it (a moderator muting someone, or the participant itself)
        this._emit("media", { participantId: d.participant_id, by: d.by ?? null, ...fields });
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
          redacted: d.redacted === true, // its text deleted by chat retention (a replay)
        }], true);
        break;
      case "whisper":
        this._mergeWhispers([{
          seq: e.seq,
          participant_id: d.participant_id,
          display_name: d.display_name,
          text: d.text,
          client_msg_id: d.client_msg_id,
          at: e.at,
        }], true);
        break;
      case "supervisor_barged": {
        const r = this.roster.get(d.participant_id);
        if (r) r.supervisor = "barged";
        if (d.participant_id === this.participantId) this.me = { ...(this.me || {}), supervisor: "barged" };
        this._emit("roster", this.roster);
        this._syncPeers();
        break;
      }
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

  // --- moderation -------------------------------------------------------------------

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

  // --- supervisors --------------------------------------------------------------------

  /** Whether this session watches unseen by the guests (a supervisor monitoring). */
  get monitoring() {
    return !!this.me && this.me.supervisor === "monitor";
  }

  /**
   * A monitoring supervisor comes in: the guests see it join from now on. Only
   * a monitoring supervisor may (else FrontdeskError "illegal_state").
   */
  async barge() {
    await this._request("barge");
    this.me = { ...(this.me || {}), supervisor: "barged" };
    if (this._mediaAfterBarge) this.mediaEnabled = true; // may startMedia() now
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
}

const hasOwn = (obj, key) => Object.prototype.hasOwnProperty.call(obj, key);

/** Copy the methods of each mixin class onto `target.prototype`. */
function mixin(target, ...sources) {
  for (const source of sources) {
    for (const name of Object.getOwnPropertyNames(source.prototype)) {
      if (name === "constructor") continue;
      if (hasOwn(target.prototype, name)) throw new Error(`frontdesk: ${name} is defined twice`);
      Object.defineProperty(target.prototype, name, Object.getOwnPropertyDescriptor(source.prototype, name));
    }
  }
}

mixin(Meeting, EventsMixin, SessionMixin, ChatMixin, DevicesMixin, MeshMixin, SfuMixin, ScreenMixin);

/** Also available as a static helper. */
Meeting.listDevices = listDevices;
