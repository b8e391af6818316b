/**
 * WebRTC media of a Meeting through the SFU (like the Python SDK's _sfu.py).
 * When the node says the meeting's media goes through the SFU ("sfu_route"),
 * the page holds one connection up (its camera in three simulcast layers and
 * its microphone, "sfu_publish") and one connection down per other participant
 * publishing (a feed: "sfu_subscribe", then "sfu_answer"). The node drives
 * Janus; the page speaks only Frontdesk's protocol. Candidates go both ways as
 * "sfu_trickle"; the SFU's are kept until the leg's remote description is set.
 *
 * A mesh that moves to the SFU (mode "auto") keeps each mesh connection until
 * that participant's feed arrives through the SFU, so nobody's call drops.
 */

/** Simulcast layers sent up (the SFU forwards the one each receiver needs). */
export const SIMULCAST = [
  { rid: "h", maxBitrate: 900_000 },
  { rid: "m", maxBitrate: 300_000, scaleResolutionDownBy: 2 },
  { rid: "l", maxBitrate: 100_000, scaleResolutionDownBy: 4 },
];

function newLeg(feed) {
  return { feed, pc: null, ready: false, candidates: [], closed: false };
}

/** Methods installed on Meeting.prototype (meeting.js). */
export class SfuMixin {
  /** How media travels now: "mesh" or "sfu". */
  get mediaRoute() {
    return (this._sfu && this._sfu.route) || "mesh";
  }

  /** On the SFU: the participants whose media this page may receive. */
  get sfuFeeds() {
    return this._sfu ? [...this._sfu.feeds] : [];
  }

  /** The connection down from `feed` (null: the one up). */
  sfuConnection(feed = null) {
    const s = this._sfuState();
    const leg = feed === null ? s.up : s.down.get(feed);
    return leg ? leg.pc : null;
  }

  /**
   * Which simulcast layer of a feed to receive: 0 (small: thumbnails) to 2
   * (large: the active speaker, a shared screen).
   * @param {string} feed @param {0|1|2} substream
   */
  setSfuLayer(feed, substream) {
    return this._request("sfu_layer", { feed, substream });
  }

  _sfuState() {
    if (!this._sfu) this._sfu = { route: "mesh", feeds: [], up: null, down: new Map() };
    return this._sfu;
  }

  _onSfuRoute(msg) {
    const s = this._sfuState();
    const moved = s.route !== msg.route;
    s.route = msg.route === "sfu" ? "sfu" : "mesh";
    s.feeds = Array.isArray(msg.feeds) ? msg.feeds.map(String) : [];
    if (moved) this._emit("mediaroute", { route: s.route });
    this._sfuSync();
  }

  _onSfuTrickle(msg) {
    const s = this._sfuState();
    const leg = msg.feed == null ? s.up : s.down.get(msg.feed);
    if (!leg) return;
    if (!leg.ready) {
      if (leg.candidates.length < 64) leg.candidates.push(msg.candidate || null);
      return;
    }
    this._sfuCandidate(leg, msg.candidate || null);
  }

  _sfuCandidate(leg, c) {
    if (!c || !c.candidate || leg.closed) return;
    leg.pc.addIceCandidate(c).catch((err) => console.warn("frontdesk: SFU candidate", err));
  }

  /** Publish and subscribe as the last "sfu_route" says; put the current tracks up. */
  _sfuSync() {
    const s = this._sfuState();
    if (s.route !== "sfu" || !this.mediaEnabled || this.state !== "joined") return;
    if (!globalThis.RTCPeerConnection) return;
    if (this.localStream && !s.up) this._sfuPublish().catch((err) => this._sfuFailed(err, null));
    else if (s.up && s.up.ready) this._sfuAttach(s.up);
    const wanted = new Set(s.feeds.filter((f) => f !== this.participantId));
    for (const [feed, leg] of [...s.down]) {
      if (!wanted.has(feed)) this._sfuDrop(feed, leg, true);
    }
    for (const feed of wanted) {
      if (!s.down.has(feed)) this._sfuSubscribe(feed).catch((err) => this._sfuFailed(err, feed));
    }
  }

  _sfuFailed(err, feed) {
    const s = this._sfuState();
    if (feed === null) {
      if (s.up) try { s.up.pc.close(); } catch { /* closed */ }
      s.up = null;
    } else {
      const leg = s.down.get(feed);
      if (leg) this._sfuDrop(feed, leg, false);
    }
    console.warn(`frontdesk: SFU ${feed === null ? "publish" : "subscribe to " + feed} failed`, err);
    this._emit("error", { code: err.code || "unavailable", message: String(err.message || err) });
  }

  _sfuTrickle(feed, pc) {
    pc.onicecandidate = ({ candidate }) => {
      // No end-of-candidates marker: Janus (full trickle) needs none, and every
      // frame counts against the session's message rate (one leg per feed).
      if (!candidate || !candidate.candidate) return;
      const fields = { candidate: candidate.toJSON() };
      if (feed !== null) fields.feed = feed;
      this._send("sfu_trickle", fields);
    };
  }

  async _sfuPublish() {
    const s = this._sfuState();
    const leg = (s.up = newLeg(null));
    const pc = (leg.pc = new RTCPeerConnection({ iceServers: this.iceServers }));
    this._sfuTrickle(null, pc);
    const tracks = this._tracks();
    const streams = this.localStream ? [this.localStream] : [];
    pc.addTransceiver(tracks.audio || "audio", { direction: "sendonly", streams });
    pc.addTransceiver(tracks.video || "video", {
      direction: "sendonly",
      streams,
      sendEncodings: SIMULCAST.map((e) => ({ ...e })),
    });
    await pc.setLocalDescription(await pc.createOffer());
    const r = await this._request("sfu_publish", { sdp: pc.localDescription.sdp });
    if (leg.closed) return;
    await pc.setRemoteDescription({ type: "answer", sdp: r.sdp });
    this._sfuReady(leg);
  }

  _sfuAttach(leg) {
    const tracks = this._tracks();
    for (const t of leg.pc.getTransceivers()) {
      const kind = t.receiver && t.receiver.track && t.receiver.track.kind;
      if (!kind || t.stopped) continue;
      const track = tracks[kind] || null;
      if (t.sender.track !== track) t.sender.replaceTrack(track).catch((err) => console.error("frontdesk: replaceTrack", err));
    }
  }

  async _sfuSubscribe(feed) {
    const s = this._sfuState();
    const leg = newLeg(feed);
    s.down.set(feed, leg);
    const r = await this._request("sfu_subscribe", { feed });
    if (leg.closed) return;
    const pc = (leg.pc = new RTCPeerConnection({ iceServers: this.iceServers }));
    this._sfuTrickle(feed, pc);
    pc.ontrack = ({ track }) => {
      // the mesh connection to this participant (if any) has done its job
      const peer = this._peers.get(feed);
      if (peer) {
        this._peers.delete(feed);
        clearTimeout(peer.iceTimer);
        try { peer.pc.close(); } catch { /* closed */ }
      }
      let stream = this.remoteStreams.get(feed);
      if (!stream || peer) {
        stream = new MediaStream();
        this.remoteStreams.set(feed, stream);
      }
      for (const t of stream.getTracks()) if (t.kind === track.kind) stream.removeTrack(t);
      stream.addTrack(track);
      this._emit("track", { participantId: feed, stream });
    };
    await pc.setRemoteDescription({ type: "offer", sdp: r.sdp });
    await pc.setLocalDescription(await pc.createAnswer());
    await this._request("sfu_answer", { feed, sdp: pc.localDescription.sdp });
    this._sfuReady(leg);
  }

  _sfuReady(leg) {
    leg.ready = true;
    const pending = leg.candidates;
    leg.candidates = [];
    for (const c of pending) this._sfuCandidate(leg, c);
    if (leg.feed === null) this._sfuAttach(leg);
  }

  _sfuDrop(feed, leg, tell) {
    const s = this._sfuState();
    leg.closed = true;
    s.down.delete(feed);
    if (leg.pc) try { leg.pc.close(); } catch { /* closed */ }
    if (tell) this._send("sfu_unsubscribe", { feed });
    if (!this._peers.has(feed) && this.remoteStreams.delete(feed)) {
      this._emit("trackended", { participantId: feed });
    }
  }

  _sfuCloseAll() {
    const s = this._sfuState();
    for (const [feed, leg] of [...s.down]) this._sfuDrop(feed, leg, false);
    if (s.up) {
      s.up.closed = true;
      try { s.up.pc && s.up.pc.close(); } catch { /* closed */ }
      s.up = null;
    }
  }
}
