/**
 * Chat of a Meeting (like the Python SDK's `_chat.py`): idempotent sends that are
 * re-sent after a resume, typing signals, older history on demand, and one list
 * of messages in seq order without duplicates (`meeting.chat`).
 */

import { newId } from "./session.js";

/** Methods installed on Meeting.prototype (meeting.js). */
export class ChatMixin {
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

  /**
   * Whisper: a chat message that only the agents and supervisors in the meeting
   * receive (never a guest). A guest's session gets FrontdeskError "forbidden".
   * @param {string} text @returns {Promise<object>} the stored whisper
   */
  async whisper(text) {
    const id = newId().slice(0, 32);
    const result = await this._request("whisper", { id, text }, { retry: true });
    const msg = result.message;
    if (msg) this._mergeWhispers([msg], true);
    return msg;
  }

  /** Tell the others whether I am typing (no answer; lost while disconnected). */
  setTyping(typing) {
    if (this.state === "joined") this._send("typing", { typing: !!typing });
  }

  /**
   * Load chat messages older than the oldest one held (50 at a time).
   * @returns {Promise<object[]>} the messages added
   */
  async loadOlder(limit = 50) {
    const before = this.chat.length ? this.chat[0].seq : this.lastSeq + 1;
    const result = await this._request("history", { before_seq: before, limit });
    if (result.more === false) this.chatComplete = true; // nothing older is kept
    return this._mergeChat(result.messages || [], false);
  }

  /** Add whispers in seq order without duplicates (a "whisper" event for each new one). */
  _mergeWhispers(messages, announce) {
    const seen = new Set(this.whispers.map((c) => c.seq));
    const added = messages.filter((c) => !seen.has(c.seq) && (seen.add(c.seq), true));
    if (!added.length) return added;
    this.whispers = this.whispers.concat(added).sort((a, b) => a.seq - b.seq);
    if (announce) for (const c of added) this._emit("whisper", c);
    return added;
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
}
