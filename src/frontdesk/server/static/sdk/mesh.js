/**
 * WebRTC media of a Meeting as a mesh (like the Python SDK's media peers): one
 * RTCPeerConnection per joined participant up to MAX_PEERS, the "perfect
 * negotiation" pattern (the smaller participant id is impolite and makes the
 * first offer), signals relayed by the server, lost offers re-sent, ICE restarts
 * after a resume or when ICE fails or stays disconnected for ICE_DISCONNECTED_MS.
 */

/** Peer connections per session (a mesh of 4 people with media). */
export const MAX_PEERS = 3;
const ICE_DISCONNECTED_MS = 3000;

/** The DTLS fingerprint of an SDP (the identity of the other end's connection). */
function fingerprintOf(sdp) {
  const m = /^a=fingerprint:(.+)$/m.exec(String(sdp || ""));
  return m ? m[1].trim() : null;
}

/** Methods installed on Meeting.prototype (meeting.js). */
export class MeshMixin {
  /** @param {string} pid @returns {RTCPeerConnection|null} */
  peerConnection(pid) {
    const peer = this._peers.get(pid);
    return peer ? peer.pc : null;
  }

  /** The tracks each sender should carry right now (null: send nothing). */
  _tracks() {
    const s = this.localStream;
    const audio = s && !this.audioMuted ? s.getAudioTracks()[0] || null : null;
    const camera = s && !this.videoMuted ? s.getVideoTracks()[0] || null : null;
    // a shared screen goes in the camera's place (screen.js)
    return { audio, video: this._screenTrack || camera };
  }

  /** Put the current tracks on every peer's senders, and connect to new peers. */
  _publish() {
    for (const peer of this._peers.values()) this._attachLocal(peer);
    this._syncPeers();
    this._sfuSync(); // sfu.js: the same tracks up to the SFU when media goes there
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
    if (this.mediaRoute === "sfu") return; // sfu.js: no new mesh connection on the SFU
    if (!this.mediaEnabled || this.state !== "joined" || !(this.localStream || this._screenTrack)) return;
    for (const p of this.roster.values()) {
      if (p.id === this.participantId || p.state !== "joined" || this._peers.has(p.id)) continue;
      if (p.supervisor === "monitor") continue; // watches unseen: no peer connection to it
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
    this._sfuCloseAll();
  }
}
