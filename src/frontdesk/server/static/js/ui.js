// Shared helpers of the guest page and the agent console.
// User data is only ever written with textContent (never innerHTML): the pages run
// under a strict CSP and a display name or chat line is text, not markup.

/** Build an element: el("button", {class: "btn", text: "Go", attrs: {type: "button"}}, ...children). */
export function el(tag, opts = {}, ...children) {
  const node = document.createElement(tag);
  if (opts.class) node.className = opts.class;
  if (opts.text !== undefined && opts.text !== null) node.textContent = String(opts.text);
  for (const [k, v] of Object.entries(opts.attrs || {})) {
    if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const [k, v] of Object.entries(opts.data || {})) node.dataset[k] = String(v);
  if (opts.on) for (const [name, fn] of Object.entries(opts.on)) node.addEventListener(name, fn);
  for (const child of children) if (child) node.append(child);
  return node;
}

export function $(selector, root = document) {
  const node = root.querySelector(selector);
  if (!node) throw new Error(`missing element ${selector}`);
  return node;
}

export function clear(node) {
  while (node.firstChild) node.firstChild.remove();
}

/** Show exactly one of the page's screens (sections with class "screen") and move focus to its heading. */
export function showScreen(id) {
  for (const s of document.querySelectorAll(".screen")) s.hidden = s.id !== id;
  const screen = document.getElementById(id);
  const heading = screen && screen.querySelector("h1, h2");
  if (heading) {
    heading.setAttribute("tabindex", "-1");
    heading.focus({ preventScroll: false });
  }
}

/** Say something in a polite aria-live region (screen readers read it out). */
export function announce(region, text) {
  region.textContent = "";
  // A fresh text node after clearing makes repeated identical messages audible.
  setTimeout(() => { region.textContent = text; }, 30);
}

// --- who is who ------------------------------------------------------------------

const ROLE_LABELS = { host: "Host", advisor: "Advisor", staff: "Staff", guest: "Guest", left: "Left" };

/**
 * What someone is in the meeting, from the role and join method the server reports,
 * never from the display name (a visitor chooses that, and may choose the advisor's).
 * Signed-in users (method "user") are "Host" (organizer), "Advisor" (presenter) or
 * "Staff" (attendee); everyone who came with a guest token or the meeting link is a
 * "Guest", not verified when only the link vouches for the name. `p` is a roster
 * participant or a lobby entry; nobody known (someone who left) is "Left".
 */
export function roleOf(p) {
  if (!p) return { key: "left", label: ROLE_LABELS.left, verified: true };
  if (p.method === "user") {
    const key = p.role === "organizer" ? "host" : p.role === "presenter" ? "advisor" : "staff";
    return { key, label: ROLE_LABELS[key], verified: true };
  }
  return { key: "guest", label: ROLE_LABELS.guest, verified: p.vouched === true };
}

/** "Guest, not verified": the role in words, for labels and announcements. */
export function roleText(p) {
  const r = roleOf(p);
  return r.verified ? r.label : `${r.label}, not verified`;
}

/**
 * The badges to show beside a name: elements of their own, never part of the name's
 * text, so no name can look like one. `verification: false` leaves out "not verified"
 * where the page says it in other words (the lobby queue).
 */
export function roleBadges(p, { verification = true } = {}) {
  const r = roleOf(p);
  const badges = [el("span", { class: `badge role role-${r.key}`, text: r.label, data: { role: r.key } })];
  // Only agents and supervisors are ever told who supervises (guests never get the field).
  if (p && (p.supervisor === "monitor" || p.supervisor === "barged")) {
    const watching = p.supervisor === "monitor";
    badges.push(el("span", {
      class: "badge role role-supervising",
      text: watching ? "supervising" : "supervisor",
      data: { role: watching ? "supervising" : "supervisor" },
      attrs: { title: watching ? "unseen and unheard by the visitor" : "came in as a supervisor" },
    }));
  }
  if (verification && !r.verified) {
    badges.push(el("span", { class: "badge role role-unverified", text: "not verified", data: { role: "unverified" } }));
  }
  return badges;
}

// --- time -------------------------------------------------------------------

export function formatClock(value) {
  const d = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(d.getTime())) return "";
  return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

export function formatDateTime(value) {
  const d = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(d.getTime())) return "";
  return d.toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
}

/** "42 s", "3 min 05 s", "1 h 02 min" for a number of milliseconds. */
export function formatDuration(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, "0")} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")} min`;
}

export function since(value, now = Date.now()) {
  const t = new Date(value).getTime();
  return Number.isNaN(t) ? "" : formatDuration(now - t);
}

export function until(value, now = Date.now()) {
  const t = new Date(value).getTime();
  return Number.isNaN(t) ? null : Math.max(0, t - now);
}

// --- tokens -------------------------------------------------------------------

/** The payload of a JWT, for display only (the server verifies the signature). */
export function jwtPayload(token) {
  try {
    const part = String(token).split(".")[1] || "";
    const b64 = part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "=");
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return {};
  }
}

// --- leave reasons ---------------------------------------------------------------

export const END_TEXT = {
  left: ["You left the meeting", "Thanks for joining. You can close this page."],
  denied: ["You were not let in", "The host declined your request to join this meeting."],
  removed: ["You were removed", "The host removed you from the meeting."],
  meeting_ended: ["The meeting has ended", "The host ended the meeting for everyone."],
  token_expired: ["Your invitation expired", "The link or token you used is no longer valid. Ask for a new invitation."],
  lobby_timeout: ["Nobody let you in", "You waited in the lobby for too long. You can try to join again."],
  connection_lost: ["Connection lost", "We could not reconnect to the meeting. Check your network and try again."],
  revoked: ["Your invitation was withdrawn", "The service that invited you can no longer be used. Ask for a new invitation."],
  replaced: ["You joined from another window", "This meeting is open in another tab or device now. You can close this page."],
};

export function endText(reason) {
  return END_TEXT[reason] || ["The session has ended", `Reason: ${reason || "unknown"}`];
}

export function errorText(err) {
  const code = err && err.code ? err.code : "error";
  const known = {
    token_expired: "This invitation has expired.",
    token_used: "This invitation was already used.",
    meeting_ended: "This meeting has already ended.",
    not_found: "This meeting does not exist.",
    forbidden: "You are not allowed to join this meeting with this link.",
    unauthorized: "Sign-in failed: check your name and password.",
    rate_limited: "Too many attempts. Wait a moment and try again.",
  };
  return known[code] || (err && err.message) || String(err);
}

// --- sound ---------------------------------------------------------------------

let audioCtx = null;

/** Create (or resume) the AudioContext during a user gesture so later beeps may play. */
export function unlockAudio() {
  try {
    audioCtx = audioCtx || new AudioContext();
    if (audioCtx.state === "suspended") audioCtx.resume();
  } catch { /* no WebAudio: stay silent */ }
}

export function beep(freq = 880, ms = 180) {
  try {
    audioCtx = audioCtx || new AudioContext();
    const osc = audioCtx.createOscillator();
    const gain = audioCtx.createGain();
    osc.frequency.value = freq;
    gain.gain.setValueAtTime(0.15, audioCtx.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, audioCtx.currentTime + ms / 1000);
    osc.connect(gain).connect(audioCtx.destination);
    osc.start();
    osc.stop(audioCtx.currentTime + ms / 1000);
  } catch { /* no sound available */ }
}

// --- devices -------------------------------------------------------------------

export async function listDevices() {
  const out = { audioinputs: [], videoinputs: [] };
  if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) return out;
  for (const d of await navigator.mediaDevices.enumerateDevices()) {
    if (d.kind === "audioinput") out.audioinputs.push(d);
    if (d.kind === "videoinput") out.videoinputs.push(d);
  }
  return out;
}

export function fillSelect(select, devices, fallback) {
  const current = select.value;
  clear(select);
  devices.forEach((d, i) => {
    select.append(el("option", { text: d.label || `${fallback} ${i + 1}`, attrs: { value: d.deviceId } }));
  });
  if (devices.some((d) => d.deviceId === current)) select.value = current;
  select.disabled = devices.length === 0;
}

// --- clipboard and downloads ---------------------------------------------------------

export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const area = el("textarea", { attrs: { readonly: true, "aria-hidden": "true" } });
    area.value = text;
    area.className = "offscreen";
    document.body.append(area);
    area.select();
    const ok = document.execCommand("copy");
    area.remove();
    return ok;
  }
}

export function download(filename, mime, text) {
  const url = URL.createObjectURL(new Blob([text], { type: mime }));
  const a = el("a", { attrs: { href: url, download: filename } });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
