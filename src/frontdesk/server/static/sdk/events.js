/**
 * The event emitter of a Meeting (like the Python SDK's `_events.py`): named
 * events, listeners that never break the SDK when they throw, and media that
 * exists already announced to a listener added late.
 */

/** Methods installed on Meeting.prototype (meeting.js). */
export class EventsMixin {
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
}
