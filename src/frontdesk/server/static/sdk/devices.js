/**
 * Local media of a Meeting: getUserMedia with fallbacks, mute (the sender sends
 * nothing), camera off (the camera is released) and camera switching (the old
 * camera keeps sending until the new one is open), and the device list.
 */

import { FrontdeskError } from "./errors.js";

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

/** Methods installed on Meeting.prototype (meeting.js). */
export class DevicesMixin {
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
}
