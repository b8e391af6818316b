// The in-meeting view shared by the guest page and the agent console: video tiles,
// people, chat with history and typing indicator, media controls, and (for
// moderators) mute / remove on each person and "End for all". Every name is shown
// with a role badge beside it (Host / Advisor / Guest, "not verified"), taken from the
// participant's role and join method: a guest may call themselves what the host is
// called, but cannot get the host's badge.
import { announce, clear, el, formatClock, listDevices, roleBadges, roleText } from "/static/js/ui.js";

const TYPING_IDLE_MS = 3000;
const TYPING_STALE_MS = 8000;

export class MeetingView {
  /**
   * @param {HTMLElement} root   empty container the view fills
   * @param {object} meeting     a Meeting of /sdk/frontdesk.js
   * @param {{moderator?: boolean, staff?: boolean, media?: object, status: HTMLElement}} opts
   *   `staff`: an agent's or supervisor's view (whispers, supervisor controls)
   */
  constructor(root, meeting, opts) {
    this.root = root;
    this.meeting = meeting;
    this.moderator = Boolean(opts.moderator);
    this.staff = Boolean(opts.staff);
    this.mediaOptions = opts.media || { audio: true, video: true };
    this.status = opts.status;
    this.offs = [];
    this.typers = new Map();
    this.typingTimer = null;
    this.iAmTyping = false;
    this.mediaStarted = false;
    this.known = new Map(); // participant id -> last roster entry (chat of people who left)
    this.build();
    this.subscribe();
    this.renderAll();
  }

  build() {
    clear(this.root);
    const m = this.meeting;
    const subject = (m.info && m.info.subject) || "Meeting";
    this.banner = el("div", { class: "banner", text: "Reconnecting…", attrs: { role: "status", hidden: true } });
    this.tiles = el("div", { class: "tiles", attrs: { "aria-label": "Video", role: "group" } });
    this.mediaNote = el("p", { class: "note", attrs: { hidden: true } });
    this.hostNote = el("p", { class: "host-note", attrs: { hidden: true, "data-note": "muted-by-host" } });
    this.muteBtn = this.button("Mute", "mute", () => this.toggleAudio());
    this.camBtn = this.button("Camera off", "camera", () => this.toggleVideo());
    this.switchBtn = this.button("Switch camera", "switch-camera", () => this.switchCamera());
    this.switchBtn.hidden = true;
    this.shareBtn = this.button("Share screen", "share-screen", () => this.toggleScreen());
    // phones' browsers cannot share a screen: no button there
    this.shareBtn.hidden = !(navigator.mediaDevices && navigator.mediaDevices.getDisplayMedia);
    this.leaveBtn = this.button("Leave", "leave", () => this.leave(), "btn danger");
    const controls = el("div", { class: "controls", attrs: { role: "toolbar", "aria-label": "Meeting controls" } },
      this.muteBtn, this.camBtn, this.switchBtn, this.shareBtn, this.leaveBtn);
    if (this.moderator) {
      this.endBtn = this.button("End for all", "end", () => this.endForAll(), "btn danger");
      controls.append(this.endBtn);
    }
    this.roster = el("ul", { class: "roster", attrs: { "aria-label": "People in the meeting" } });
    this.chatLog = el("ol", { class: "chat-log", attrs: { "aria-label": "Chat messages", tabindex: "0" } });
    this.olderBtn = this.button("Show earlier messages", "older", () => this.loadOlder(), "btn link");
    this.typing = el("p", { class: "typing", attrs: { "aria-live": "polite" } });
    this.chatInput = el("input", {
      attrs: { id: "chat-input", name: "text", autocomplete: "off", maxlength: "4000", required: true },
      on: { input: () => this.onTypingInput() },
    });
    const form = el("form", { class: "chat-form", on: { submit: (e) => this.sendChat(e) } },
      el("label", { text: "Message", attrs: { for: "chat-input" }, class: "visually-hidden" }),
      this.chatInput,
      el("button", { class: "btn primary", text: "Send", attrs: { type: "submit" } }));
    this.chatForm = form;
    const side = el("aside", { class: "side" },
      el("h3", { text: "People" }), this.roster,
      el("h3", { text: "Chat" }), this.olderBtn, this.chatLog, this.typing, form);
    if (this.staff) side.append(this.buildWhispers());
    this.monitorBanner = el("p", { class: "monitor-banner", attrs: { role: "status", hidden: true, "data-monitor": "1" },
      text: "Monitoring: the visitor does not see or hear you. Whisper to the agent, or barge in to talk." });
    this.bargeBtn = this.button("Barge in", "barge", () => this.barge(), "btn primary");
    this.bargeBtn.hidden = true;
    controls.append(this.bargeBtn);
    this.root.append(
      el("h2", { text: subject, attrs: { id: "meeting-heading" } }),
      this.banner,
      this.monitorBanner,
      el("div", { class: "stage" }, el("div", { class: "main" }, this.tiles, this.hostNote, this.mediaNote, controls), side),
    );
  }

  // --- whispers (agents and supervisors only) ----------------------------------
  buildWhispers() {
    this.whisperLog = el("ol", { class: "whisper-log", attrs: { "aria-label": "Whispers", tabindex: "0" } });
    this.whisperInput = el("input", {
      attrs: { id: "whisper-input", name: "whisper", autocomplete: "off", maxlength: "4000", required: true },
    });
    const form = el("form", { class: "whisper-form", on: { submit: (e) => this.sendWhisper(e) } },
      el("label", { text: "Whisper", attrs: { for: "whisper-input" }, class: "visually-hidden" }),
      this.whisperInput,
      el("button", { class: "btn", text: "Whisper", attrs: { type: "submit", "data-action": "whisper" } }));
    this.whisperBox = el("section", { class: "whispers", attrs: { "aria-label": "Whispers" } },
      el("h3", { text: "Whispers" }),
      el("p", { class: "note", text: "Only agents and supervisors see these; never the visitor." }),
      this.whisperLog, form);
    return this.whisperBox;
  }

  renderWhispers() {
    if (!this.whisperLog) return;
    const log = this.whisperLog;
    clear(log);
    for (const msg of this.meeting.whispers || []) {
      const mine = msg.participant_id === this.meeting.participantId;
      log.append(el("li", { class: mine ? "msg whisper mine" : "msg whisper", data: { seq: msg.seq, pid: msg.participant_id } },
        el("span", { class: "who", text: mine ? "You" : msg.display_name }),
        el("span", { class: "badge whisper", text: "whisper" }),
        el("time", { text: formatClock(msg.at), attrs: { datetime: msg.at } }),
        el("p", { class: "text", text: msg.text })));
    }
    log.scrollTop = log.scrollHeight;
  }

  async sendWhisper(event) {
    event.preventDefault();
    const text = this.whisperInput.value.trim();
    if (!text) return;
    this.whisperInput.value = "";
    try {
      await this.meeting.whisper(text);
      this.renderWhispers();
    } catch (err) {
      this.whisperInput.value = text;
      announce(this.status, `Whisper not sent: ${err.message || err}`);
    }
    this.whisperInput.focus();
  }

  renderSupervision() {
    const monitoring = Boolean(this.meeting.monitoring);
    this.monitorBanner.hidden = !monitoring;
    this.bargeBtn.hidden = !monitoring;
    // A monitor talks to the agent only: the guests' chat and media wait for the barge.
    this.chatForm.hidden = monitoring;
    for (const b of [this.muteBtn, this.camBtn]) b.hidden = monitoring;
    if (monitoring) this.shareBtn.hidden = true;
  }

  async barge() {
    this.bargeBtn.disabled = true;
    try {
      await this.meeting.barge();
      announce(this.status, "You barged in: the visitor now sees you");
    } catch (err) {
      announce(this.status, `Could not barge in: ${err.message || err}`);
    }
    this.bargeBtn.disabled = false;
    this.renderAll();
  }

  button(text, name, handler, cls = "btn") {
    return el("button", { class: cls, text, attrs: { type: "button", "data-action": name }, on: { click: handler } });
  }

  subscribe() {
    const m = this.meeting;
    const on = (name, fn) => this.offs.push(m.on(name, fn));
    on("state", ({ state }) => this.onState(state));
    on("reconnecting", ({ attempt }) => {
      this.banner.textContent = attempt > 1 ? `Reconnecting… (attempt ${attempt})` : "Reconnecting…";
      this.banner.hidden = false;
    });
    on("roster", () => { this.renderRoster(); this.renderTiles(); });
    on("media", ({ participantId, by, audio_muted: audioMuted }) => {
      this.renderRoster();
      this.renderTiles();
      if (participantId === m.participantId) {
        this.updateControls();
        if (audioMuted && by && by !== m.participantId) this.mutedByHost(by);
      }
    });
    on("chat", (msg) => {
      this.renderChat();
      this.typers.delete(msg.participant_id);
      this.renderTyping();
      if (msg.participant_id !== m.participantId) {
        announce(this.status, `${msg.display_name} (${roleText(this.person(msg.participant_id))}): ${msg.text}`);
      }
    });
    on("whisper", (msg) => {
      this.renderWhispers();
      if (msg.participant_id !== m.participantId) announce(this.status, `Whisper from ${msg.display_name}: ${msg.text}`);
    });
    on("typing", ({ participant_id: pid, typing }) => {
      if (pid === m.participantId) return;
      if (typing) this.typers.set(pid, Date.now()); else this.typers.delete(pid);
      this.renderTyping();
    });
    on("mediacap", ({ participantId, max }) => {
      const p = m.roster.get(participantId);
      this.showMediaNote(`Video is shared by up to ${max + 1} people: ${(p && p.display_name) || "a participant"} is here by chat only.`);
    });
    on("track", () => this.renderTiles());
    on("trackended", () => this.renderTiles());
    on("localstream", () => this.renderTiles());
    on("screenshare", () => { this.updateControls(); this.renderTiles(); });
    this.staleTimer = setInterval(() => this.renderTyping(), 2000);
  }

  onState(state) {
    this.banner.hidden = state !== "reconnecting";
    if (state === "joined") {
      this.renderAll();
      this.startMedia();
    }
  }

  renderAll() {
    this.renderRoster();
    this.renderTiles();
    this.renderChat();
    this.renderWhispers();
    this.renderSupervision();
    this.renderTyping();
    if (this.meeting.state === "joined") this.startMedia();
  }

  // --- media -------------------------------------------------------------------
  async startMedia() {
    if (this.mediaStarted) return;
    this.mediaStarted = true;
    const wanted = this.mediaOptions;
    if (this.meeting.monitoring) {
      this.mediaStarted = false; // after a barge in, media may start
      return;
    }
    if (!wanted.audio && !wanted.video) {
      this.showMediaNote("You joined without camera and microphone: chat only.");
      return;
    }
    const { startAudioMuted, startVideoMuted, ...constraints } = wanted;
    try {
      // Muted before anything is published; a camera that starts off is not opened.
      await this.meeting.startMedia({
        ...constraints, audioMuted: Boolean(startAudioMuted), videoMuted: Boolean(startVideoMuted),
      });
      if (!constraints.video) this.camBtn.disabled = true;
      if (!constraints.audio) this.muteBtn.disabled = true;
    } catch (err) {
      this.showMediaNote("Camera and microphone are not available: you can still chat. " +
        "Allow access in your browser settings and rejoin to use them.");
      this.muteBtn.disabled = true;
      this.camBtn.disabled = true;
      console.warn("media unavailable", err);
    }
    this.updateControls();
    const { videoinputs } = await listDevices();
    this.switchBtn.hidden = videoinputs.length < 2;
    this.renderTiles();
  }

  /** A moderator muted me: say so where I look, and how to talk again. */
  mutedByHost(by) {
    const who = this.person(by);
    const name = (who && who.display_name) || "The host";
    this.hostNote.textContent = `${name} muted your microphone. Press Unmute when you want to talk again.`;
    this.hostNote.hidden = false;
    announce(this.status, this.hostNote.textContent);
  }

  showMediaNote(text) {
    this.mediaNote.textContent = text;
    this.mediaNote.hidden = false;
  }

  async toggleAudio() {
    const muted = !this.meeting.audioMuted;
    if (!muted) this.hostNote.hidden = true;
    try {
      await this.meeting.setAudioMuted(muted);
      announce(this.status, muted ? "Microphone muted" : "Microphone on");
    } catch (err) {
      announce(this.status, `Could not change the microphone: ${err.message || err}`);
    }
    this.updateControls();
  }

  async toggleVideo() {
    const muted = !this.meeting.videoMuted;
    this.camBtn.disabled = true;
    try {
      await this.meeting.setVideoMuted(muted);
      announce(this.status, muted ? "Camera off" : "Camera on");
    } catch (err) {
      announce(this.status, `Could not change the camera: ${err.message || err}`);
    }
    this.camBtn.disabled = false;
    this.updateControls();
    this.renderTiles();
  }

  async switchCamera() {
    try {
      await this.meeting.switchCamera();
      announce(this.status, "Switched camera");
      this.renderTiles();
    } catch (err) {
      announce(this.status, `Could not switch camera: ${err.message || err}`);
    }
  }

  /** Share my screen (shown large to the others), or stop sharing it. */
  async toggleScreen() {
    const m = this.meeting;
    this.shareBtn.disabled = true;
    try {
      if (m.screenSharing) {
        await m.stopScreenShare();
        announce(this.status, "You stopped sharing your screen");
      } else {
        await m.shareScreen();
        announce(this.status, "You are sharing your screen");
      }
    } catch (err) {
      announce(this.status, `Could not share your screen: ${err.message || err}`);
    }
    this.shareBtn.disabled = false;
    this.updateControls();
  }

  updateControls() {
    const { audioMuted, videoMuted } = this.meeting;
    const sharing = Boolean(this.meeting.screenSharing);
    this.shareBtn.textContent = sharing ? "Stop sharing" : "Share screen";
    this.shareBtn.setAttribute("aria-pressed", String(sharing));
    this.muteBtn.textContent = audioMuted ? "Unmute" : "Mute";
    this.muteBtn.setAttribute("aria-pressed", String(Boolean(audioMuted)));
    this.camBtn.textContent = videoMuted ? "Camera on" : "Camera off";
    this.camBtn.setAttribute("aria-pressed", String(Boolean(videoMuted)));
  }

  // --- tiles -------------------------------------------------------------------
  renderTiles() {
    const m = this.meeting;
    this.remember();
    const want = new Map();
    const selfStream = m.localStream || null;
    want.set(m.participantId, { name: `${(m.me && m.me.display_name) || "You"} (you)`, stream: selfStream, self: true,
      who: this.person(m.participantId),
      videoOff: m.videoMuted || !selfStream || selfStream.getVideoTracks().length === 0 });
    for (const p of m.roster.values()) {
      if (p.id === m.participantId || p.state !== "joined") continue;
      if (p.supervisor === "monitor") continue; // watches unseen: shown under People only
      const stream = m.remoteStreams ? m.remoteStreams.get(p.id) || null : null;
      const screen = Boolean(p.screen_sharing); // its video is a screen: shown whole and large
      want.set(p.id, { name: p.display_name, stream, self: false, screen,
        videoOff: (Boolean(p.video_muted) && !screen) || !stream,
        audioMuted: Boolean(p.audio_muted), who: p });
    }
    for (const tile of [...this.tiles.children]) {
      if (!want.has(tile.dataset.pid)) tile.remove();
    }
    for (const [pid, t] of want) {
      let tile = this.tiles.querySelector(`[data-pid="${CSS.escape(pid)}"]`);
      if (!tile) {
        const video = el("video", { attrs: { autoplay: true, playsinline: true } });
        video.muted = t.self; // never play my own microphone back
        tile = el("figure", { class: t.self ? "tile self" : "tile", data: { pid } },
          video, el("div", { class: "avatar", attrs: { "aria-hidden": "true" } }), el("figcaption"));
        this.tiles.append(tile);
      }
      const video = tile.querySelector("video");
      if (video.srcObject !== t.stream) {
        video.srcObject = t.stream;
        if (t.stream) video.play().catch(() => { /* autoplay blocked: shown when the user taps */ });
      }
      tile.classList.toggle("video-off", t.videoOff);
      tile.classList.toggle("screen", Boolean(t.screen));
      tile.querySelector(".avatar").textContent = initials(t.name);
      const caption = tile.querySelector("figcaption");
      clear(caption);
      caption.append(el("span", { class: "name", text: t.name }), ...roleBadges(t.who));
      if (t.audioMuted) caption.append(el("span", { class: "flags", text: "muted" }));
      if (t.screen) caption.append(el("span", { class: "flags", text: "shared screen" }));
      tile.setAttribute("aria-label", `${t.screen ? "Screen shared by " : ""}${t.name} (${roleText(t.who)})`);
    }
    this.tiles.dataset.count = String(want.size);
    this.tiles.classList.toggle("has-screen", [...want.values()].some((t) => t.screen));
    // how many others are shown: with anyone here, my own view becomes the small corner picture
    this.tiles.dataset.remote = String(want.size - 1);
  }

  // --- people ------------------------------------------------------------------
  /** The roster entry of a participant, also after they left (for their chat lines). */
  person(pid) {
    const m = this.meeting;
    return m.roster.get(pid) || this.known.get(pid) || (pid === m.participantId ? m.me : null) || null;
  }

  remember() {
    for (const p of this.meeting.roster.values()) this.known.set(p.id, p);
  }

  renderRoster() {
    const m = this.meeting;
    this.remember();
    clear(this.roster);
    for (const p of m.roster.values()) {
      if (p.state !== "joined" && p.state !== "reconnecting") continue;
      const me = p.id === m.participantId;
      const flags = [];
      if (p.audio_muted) flags.push("muted");
      if (p.video_muted) flags.push("camera off");
      if (p.state === "reconnecting") flags.push("reconnecting…");
      const li = el("li", { class: "person", data: { pid: p.id } },
        el("span", { class: "name", text: me ? `${p.display_name} (you)` : p.display_name }),
        ...roleBadges(p),
        el("span", { class: "flags", text: flags.join(" · ") }));
      if (this.moderator && !me) {
        const actions = el("span", { class: "actions" });
        if (!p.audio_muted) {
          actions.append(this.button("Mute", "mute-person", () => this.moderate("mute", p), "btn small"));
        }
        actions.append(this.button("Remove", "remove-person", () => this.moderate("remove", p), "btn small danger"));
        for (const b of actions.querySelectorAll("button")) b.setAttribute("aria-label", `${b.textContent} ${p.display_name}`);
        li.append(actions);
      }
      this.roster.append(li);
    }
  }

  async moderate(action, p) {
    try {
      await this.meeting[action](p.id);
      announce(this.status, action === "mute" ? `${p.display_name} was muted` : `${p.display_name} was removed`);
    } catch (err) {
      announce(this.status, `Could not ${action} ${p.display_name}: ${err.message || err}`);
    }
  }

  // --- chat --------------------------------------------------------------------
  renderChat() {
    const log = this.chatLog;
    // Nothing to show earlier in an empty chat, nor once the first message is here.
    this.olderBtn.hidden = this.meeting.chat.length === 0 || Boolean(this.meeting.chatComplete);
    const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    this.remember();
    clear(log);
    for (const msg of this.meeting.chat) {
      const mine = msg.participant_id === this.meeting.participantId;
      log.append(el("li", { class: mine ? "msg mine" : "msg", data: { seq: msg.seq, pid: msg.participant_id } },
        el("span", { class: "who", text: mine ? "You" : msg.display_name }),
        ...roleBadges(this.person(msg.participant_id)),
        el("time", { text: formatClock(msg.at), attrs: { datetime: msg.at } }),
        msg.redacted
          ? el("p", { class: "text removed", text: "Message removed (chat retention)" })
          : el("p", { class: "text", text: msg.text })));
    }
    if (atBottom) log.scrollTop = log.scrollHeight;
  }

  renderTyping() {
    const now = Date.now();
    const names = [];
    for (const [pid, at] of this.typers) {
      if (now - at > TYPING_STALE_MS) { this.typers.delete(pid); continue; }
      const p = this.meeting.roster.get(pid);
      names.push(p ? p.display_name : "Someone");
    }
    const text = names.length === 0 ? "" : names.length === 1 ? `${names[0]} is typing…` : `${names.join(", ")} are typing…`;
    if (this.typing.textContent !== text) this.typing.textContent = text;
  }

  onTypingInput() {
    if (!this.iAmTyping) {
      this.iAmTyping = true;
      this.meeting.setTyping(true);
    }
    clearTimeout(this.typingTimer);
    this.typingTimer = setTimeout(() => this.stopTyping(), TYPING_IDLE_MS);
  }

  stopTyping() {
    clearTimeout(this.typingTimer);
    if (this.iAmTyping) {
      this.iAmTyping = false;
      try { this.meeting.setTyping(false); } catch { /* session over */ }
    }
  }

  async sendChat(event) {
    event.preventDefault();
    const text = this.chatInput.value.trim();
    if (!text) return;
    this.chatInput.value = "";
    this.stopTyping();
    try {
      await this.meeting.sendChat(text);
      this.renderChat();
      this.chatLog.scrollTop = this.chatLog.scrollHeight;
    } catch (err) {
      this.chatInput.value = text;
      announce(this.status, `Message not sent: ${err.message || err}`);
    }
    this.chatInput.focus();
  }

  async loadOlder() {
    try {
      const older = await this.meeting.loadOlder();
      this.renderChat();
      if (Array.isArray(older) && older.length === 0) this.olderBtn.hidden = true;
      if (this.olderBtn.hidden) this.chatInput.focus(); // the button is gone: focus stays in the chat
    } catch (err) {
      announce(this.status, `Could not load earlier messages: ${err.message || err}`);
    }
  }

  // --- ending ------------------------------------------------------------------
  async leave() {
    this.leaveBtn.disabled = true;
    try { await this.meeting.leave(); } catch (err) { console.warn("leave", err); }
  }

  async endForAll() {
    if (this.endBtn.dataset.confirm !== "1") {
      this.endBtn.dataset.confirm = "1";
      this.endBtn.textContent = "Confirm: end for all";
      setTimeout(() => { this.endBtn.dataset.confirm = ""; this.endBtn.textContent = "End for all"; }, 5000);
      return;
    }
    this.endBtn.disabled = true;
    try { await this.meeting.end(); } catch (err) {
      this.endBtn.disabled = false;
      announce(this.status, `Could not end the meeting: ${err.message || err}`);
    }
  }

  destroy() {
    this.stopTyping();
    clearInterval(this.staleTimer);
    for (const off of this.offs) off();
    this.offs = [];
    for (const v of this.root.querySelectorAll("video")) v.srcObject = null;
    clear(this.root);
  }
}

export function initials(name) {
  const parts = String(name || "?").replace(/\(you\)$/, "").trim().split(/\s+/).filter(Boolean);
  return (parts.slice(0, 2).map((w) => w[0]).join("") || "?").toUpperCase();
}
