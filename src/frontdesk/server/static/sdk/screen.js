/**
 * Screen sharing of a Meeting: the shared screen takes the place of the camera on
 * every peer's video sender (`replaceTrack`, so no new offer is needed), and a
 * `media` request with `screen_sharing` tells everyone (a typed field of the
 * roster and of `media_changed`) that this video is a screen, to show it large.
 */

import { FrontdeskError } from "./errors.js";

/** Methods installed on Meeting.prototype (meeting.js). */
export class ScreenMixin {
  /** Whether this session sends a shared screen now. */
  get screenSharing() {
    return !!this._screenTrack;
  }

  /**
   * Ask the browser for a screen, window or tab, and send it in place of the
   * camera. Rejects with FrontdeskError("media_unavailable") when the browser
   * cannot share a screen (most phones) or the user said no.
   * @returns {Promise<MediaStreamTrack>}
   */
  async shareScreen() {
    if (this._screenTrack) return this._screenTrack;
    if (!this.mediaEnabled) {
      throw new FrontdeskError("media_unavailable", "this session was joined with media: false (chat only)");
    }
    const md = globalThis.navigator && globalThis.navigator.mediaDevices;
    if (!md || !md.getDisplayMedia) {
      throw new FrontdeskError("media_unavailable", "this browser cannot share a screen");
    }
    let stream;
    try {
      stream = await md.getDisplayMedia({ video: true, audio: false });
    } catch (err) {
      throw new FrontdeskError("media_unavailable", `screen sharing was not allowed (${err && err.name})`);
    }
    const track = stream.getVideoTracks()[0];
    if (!track) throw new FrontdeskError("media_unavailable", "no screen was chosen");
    if ("contentHint" in track) track.contentHint = "detail"; // text stays sharp
    // The browser's own "Stop sharing" ends the track: stop as if asked.
    track.addEventListener("ended", () => {
      if (this._screenTrack === track) this.stopScreenShare().catch(() => {});
    });
    this._screenTrack = track;
    this._publish();
    this._emit("screenshare", { sharing: true, track });
    if (this.state === "joined") await this._request("media", { screen_sharing: true });
    return track;
  }

  /** Stop sharing: the camera (if on) is sent again. Idempotent. */
  async stopScreenShare() {
    const track = this._screenTrack;
    if (!track) return;
    this._screenTrack = null;
    track.stop();
    this._publish();
    this._emit("screenshare", { sharing: false, track: null });
    if (this.state === "joined") await this._request("media", { screen_sharing: false });
  }
}
