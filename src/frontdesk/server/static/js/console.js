// The agent console (/console): sign in, meetings, a live lobby queue across my
// meetings, and the in-meeting view with moderation.
import { joinAsUser, login } from "/sdk/frontdesk.js";
import {
  $, announce, beep, copyText, download, el, clear, endText, errorText, formatDateTime, roleBadges, showScreen,
  since, unlockAudio,
} from "/static/js/ui.js";
import { MeetingView } from "/static/js/meeting_view.js";

const KEY = "frontdesk.session";
const POLL_MS = 2000;
const BASE_TITLE = "Frontdesk console";
const status = $("#status");

let session = null; // {token, username, display_name, expires_at, role}
let meetings = [];
let pollTimer = null;
let clockTimer = null;
let restQueue = [];
let seen = null; // participant ids already notified (null until the first poll)
let handled = new Set(); // admitted or denied here, until the server forgets them
let unseenArrival = false;
let current = null; // the SDK Meeting I am in
let view = null;
let helpdesk = null; // the last GET /v1/me/helpdesk (null: not an agent of any queue)
let helpdeskAt = 0; // when it was read (the waiting clock counts on from there)
let offerId = null; // the offer on show, to beep once per new offer
let pendingAdmit = null; // {meetingId, name}: the accepted visitor to let in from the lobby
let boardQueue = "";
let helpdeskWatch = 0; // which wait for my next helpdesk change runs (0: none)

// --- the user API ---------------------------------------------------------------------
class ApiError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

async function api(path, { method = "GET", body } = {}) {
  const headers = { Accept: "application/json", Authorization: `Bearer ${session ? session.token : ""}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const resp = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = resp.status === 204 ? null : await resp.json().catch(() => null);
  if (resp.status === 401) {
    signOut("Your session has ended: please sign in again.");
    throw new ApiError(401, "unauthorized", "signed out");
  }
  if (!resp.ok) throw new ApiError(resp.status, data && data.code, (data && (data.detail || data.title)) || resp.statusText);
  return data;
}

// --- sign in / out -------------------------------------------------------------------
async function onSignIn(event) {
  event.preventDefault();
  unlockAudio(); // during the click, so arrival beeps may play later
  const err = $("#signin-error");
  err.hidden = true;
  const button = $("#signin-button");
  button.disabled = true;
  try {
    session = await login({ baseUrl: location.origin, username: $("#username").value.trim(), password: $("#password").value });
    sessionStorage.setItem(KEY, JSON.stringify(session));
    $("#password").value = "";
    await showDashboard();
  } catch (e) {
    err.textContent = errorText(e.code === "unauthorized" || e.status === 401 ? { code: "unauthorized" } : e);
    err.hidden = false;
    $("#password").focus();
  } finally {
    button.disabled = false;
  }
}

function signOut(message) {
  session = null;
  sessionStorage.removeItem(KEY);
  stopPolling();
  if (current) current.leave().catch(() => {});
  closeView();
  fetch("/v1/session", { method: "DELETE" }).catch(() => {});
  for (const id of ["whoami", "signout", "back"]) $(`#${id}`).hidden = true;
  showScreen("signin");
  if (message) {
    $("#signin-error").textContent = message;
    $("#signin-error").hidden = false;
  }
  document.title = BASE_TITLE;
}

async function showDashboard() {
  const supervisor = session.role === "supervisor";
  $("#whoami").textContent = `Signed in as ${session.display_name}${supervisor ? " (supervisor)" : ""}`;
  $("#supervise").hidden = !supervisor;
  $("#board").hidden = !supervisor;
  $("#whoami").hidden = false;
  $("#signout").hidden = false;
  $("#back").hidden = true;
  showScreen("dashboard");
  startPolling();
  await loadMeetings();
}

// --- meetings -----------------------------------------------------------------------
async function loadMeetings() {
  try {
    meetings = (await api("/v1/me/meetings?limit=100")).items;
  } catch (e) {
    if (e.status !== 401) announce(status, `Could not load meetings: ${e.message}`);
    return;
  }
  renderMeetings();
}

function renderMeetings() {
  const list = $("#meetings");
  clear(list);
  $("#meetings-empty").hidden = meetings.length > 0;
  const sorted = [...meetings].sort((a, b) => String(b.created_at).localeCompare(String(a.created_at)));
  for (const m of sorted) {
    const title = m.subject || "Untitled meeting";
    const ended = m.state === "ended";
    const actions = el("div", { class: "actions" });
    // An ended meeting cannot be opened, and its link and invitation lead nowhere.
    if (!ended) {
      actions.append(
        el("button", { class: "btn primary small", text: "Open", attrs: { type: "button", "data-action": "open", "aria-label": `Open ${title}` }, on: { click: () => openMeeting(m.id) } }),
        el("button", { class: "btn small", text: "Copy link", attrs: { type: "button", "data-action": "copy", "aria-label": `Copy the join link of ${title}` },
          on: { click: async () => announce(status, (await copyText(m.join_url)) ? "Join link copied" : "Could not copy the link") } }),
        el("button", { class: "btn small", text: "Download invite", attrs: { type: "button", "data-action": "invite", "aria-label": `Download the invitation of ${title}` },
          on: { click: () => download(`${slug(title)}.ics`, "text/calendar", inviteIcs(m)) } }),
      );
    }
    actions.append(
      el("button", { class: "btn small", text: "Download transcript", attrs: { type: "button", "data-action": "transcript", "aria-label": `Download the transcript of ${title}` },
        on: { click: () => downloadTranscript(m, title) } }),
    );
    list.append(el("li", { class: "meeting", data: { meetingId: m.id, joinUrl: m.join_url } },
      el("div", { class: "meta" },
        el("strong", { text: title }),
        el("span", { class: `badge ${m.state}`, text: m.state }),
        el("span", { class: "muted", text: `created ${formatDateTime(m.created_at)} · ${m.access_policy}` }),
        ended ? null : el("code", { class: "join-url", text: m.join_url })),
      actions));
  }
}

async function onCreate(event) {
  event.preventDefault();
  const err = $("#new-error");
  err.hidden = true;
  try {
    const m = await api("/v1/me/meetings", { method: "POST", body: {
      subject: $("#subject").value.trim(), organizer: session.username,
      access_policy: $("#policy").value, lobby_bypass: $("#bypass").value,
    } });
    meetings.push(m);
    renderMeetings();
    $("#subject").value = "";
    announce(status, `Meeting "${m.subject || "Untitled meeting"}" created`);
    $(`[data-meeting-id="${CSS.escape(m.id)}"] [data-action="copy"]`).focus();
  } catch (e) {
    if (e.status === 401) return;
    err.textContent = errorText(e);
    err.hidden = false;
  }
}

// The transcript as the server renders it (plain text): saved as a file, never
// put into the page, so nothing anyone wrote in the chat is ever parsed as HTML.
async function downloadTranscript(m, title) {
  try {
    const resp = await fetch(`/v1/me/meetings/${encodeURIComponent(m.id)}/transcript?format=text`, {
      headers: { Accept: "text/plain", Authorization: `Bearer ${session ? session.token : ""}` },
    });
    if (resp.status === 401) { signOut("Your session has ended: please sign in again."); return; }
    if (!resp.ok) {
      const data = await resp.json().catch(() => null);
      throw new ApiError(resp.status, data && data.code, (data && (data.detail || data.title)) || resp.statusText);
    }
    download(`${slug(title)}-transcript.txt`, "text/plain;charset=utf-8", await resp.text());
    announce(status, "Transcript downloaded");
  } catch (e) {
    announce(status, `Could not download the transcript: ${errorText(e)}`);
  }
}

function slug(text) {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "") || "meeting";
}

// RFC 5545 invitation, built here (the server's invite.ics needs a service token).
function inviteIcs(m) {
  const esc = (s) => String(s).replace(/\\/g, "\\\\").replace(/;/g, "\\;").replace(/,/g, "\\,").replace(/\r?\n/g, "\\n");
  const stamp = (d) => new Date(d).toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
  const start = m.start || m.created_at;
  const end = m.end || new Date(new Date(start).getTime() + 3600_000).toISOString();
  const host = location.hostname;
  const cn = String(session.display_name).replace(/["\\]/g, "");
  const lines = [
    "BEGIN:VCALENDAR", "PRODID:-//Frontdesk//Frontdesk meetings//EN", "VERSION:2.0", "METHOD:PUBLISH",
    "BEGIN:VEVENT", `UID:${m.id}@${host}`, `DTSTAMP:${stamp(Date.now())}`, `DTSTART:${stamp(start)}`,
    `DTEND:${stamp(end)}`, `SUMMARY:${esc(m.subject || "Frontdesk meeting")}`, `URL:${m.join_url}`,
    `LOCATION:${esc(m.join_url)}`, `DESCRIPTION:${esc(`Join the meeting: ${m.join_url}`)}`,
    `ORGANIZER;CN="${cn}":mailto:${m.organizer}@${host}`,
    `STATUS:${m.state === "ended" ? "CANCELLED" : "CONFIRMED"}`, `X-FRONTDESK-MEETING-ID:${m.id}`,
    "END:VEVENT", "END:VCALENDAR",
  ];
  return lines.map(fold).join("\r\n") + "\r\n";
}

function fold(line) {
  const out = [];
  let rest = line;
  while (rest.length > 74) { out.push(rest.slice(0, 74)); rest = ` ${rest.slice(74)}`; }
  out.push(rest);
  return out.join("\r\n");
}

// --- the lobby queue -------------------------------------------------------------------
function startPolling() {
  stopPolling();
  seen = null;
  poll();
  pollTimer = setInterval(poll, POLL_MS);
  clockTimer = setInterval(() => { renderQueue(); tickOffer(); }, 1000);
  watchHelpdesk();
}

function stopPolling() {
  clearInterval(pollTimer);
  clearInterval(clockTimer);
  pollTimer = clockTimer = null;
  helpdeskWatch += 1; // ends the running wait
}

async function poll() {
  if (session && session.role === "supervisor") { loadSupervised(); loadBoard(); }
  loadCallbacks(); // my helpdesk state comes by watchHelpdesk
  try {
    restQueue = (await api("/v1/me/lobby")).items;
  } catch (e) {
    return; // a transient failure: keep the last queue
  }
  renderQueue();
}

// --- supervising ------------------------------------------------------------------------
async function loadSupervised() {
  let items;
  try {
    items = (await api("/v1/supervisor/meetings?limit=100")).items;
  } catch (e) {
    if (e.status === 403) { session.role = "agent"; $("#supervise").hidden = true; }
    return;
  }
  const list = $("#supervised");
  const key = items.map((m) => `${m.id}:${m.live}:${m.guests}:${m.agents}:${m.monitors}`).join(",");
  if (list.dataset.key === key) return; // unchanged: keep focus on its buttons
  list.dataset.key = key;
  clear(list);
  $("#supervise-empty").hidden = items.length > 0;
  for (const m of items) {
    const title = m.subject || "Untitled meeting";
    const people = m.live ? `${m.agents} agent(s) · ${m.guests} visitor(s) · ${m.waiting} waiting` : "nobody in yet";
    list.append(el("li", { class: "meeting", data: { meetingId: m.id } },
      el("div", { class: "meta" },
        el("strong", { text: title }),
        el("span", { class: "muted", text: `organizer ${m.organizer} · ${people}` })),
      el("div", { class: "actions" },
        el("button", { class: "btn primary small", text: "Monitor",
          attrs: { type: "button", "data-action": "monitor", "aria-label": `Monitor ${title}` },
          on: { click: () => openMeeting(m.id, { monitor: true }) } }))));
  }
}

function queueEntries() {
  const byId = new Map();
  for (const e of restQueue) byId.set(e.participant_id, e);
  if (current && current.state === "joined" && Array.isArray(current.lobby)) {
    const info = current.info || {};
    for (const e of current.lobby) {
      byId.set(e.participant_id, { ...byId.get(e.participant_id), ...e, meeting_id: info.id, subject: info.subject });
    }
  }
  const live = new Set(byId.keys());
  handled = new Set([...handled].filter((pid) => live.has(pid)));
  return [...byId.values()].filter((e) => !handled.has(e.participant_id))
    .sort((a, b) => String(a.waiting_since || "").localeCompare(String(b.waiting_since || "")));
}

function renderQueue() {
  const entries = queueEntries();
  const ids = new Set(entries.map((e) => e.participant_id));
  const arrivals = seen === null ? [] : entries.filter((e) => !seen.has(e.participant_id));
  seen = ids;
  if (arrivals.length) {
    unseenArrival = true;
    beep();
    announce(status, `${arrivals.map((e) => e.display_name).join(", ")} is waiting in the lobby`);
  }
  if (entries.length === 0) unseenArrival = false;
  document.title = entries.length ? `(${entries.length}) ${unseenArrival ? "New visitor · " : ""}${BASE_TITLE}` : BASE_TITLE;
  $("#queue-count").textContent = String(entries.length);
  $("#queue-empty").hidden = entries.length > 0;
  fillQueue($("#queue"), entries, true);
  const mine = current ? entries.filter((e) => e.meeting_id === (current.info || {}).id) : [];
  $("#meeting-lobby").hidden = mine.length === 0;
  fillQueue($("#meeting-queue"), mine, false);
}

function fillQueue(list, entries, withSubject) {
  // Rebuild only when membership changes (keeps focus on buttons); update times in place.
  const key = entries.map((e) => e.participant_id).join(",");
  if (list.dataset.key !== key) {
    list.dataset.key = key;
    clear(list);
    for (const e of entries) list.append(queueItem(e, withSubject));
  }
  for (const e of entries) {
    const item = list.querySelector(`[data-pid="${CSS.escape(e.participant_id)}"] .waiting`);
    if (item) item.textContent = `waiting ${since(e.waiting_since)}`;
  }
}

function queueItem(e, withSubject) {
  // The role badge and the vouching come from the entry's role, method and vouched
  // fields: the name is what the visitor (or the back end) chose, and may be anyone's.
  const vouch = e.vouched
    ? (e.method === "token" ? "verified by invitation token" : "verified")
    : "not verified: name typed by the visitor";
  const who = e.display_name;
  return el("li", { class: "visitor", data: { pid: e.participant_id, meetingId: e.meeting_id } },
    el("div", { class: "meta" },
      el("strong", { class: "name", text: who }),
      el("span", { class: "badges" },
        ...roleBadges(e, { verification: false }),
        el("span", { class: e.vouched ? "badge vouched" : "badge unvouched", text: vouch })),
      withSubject ? el("span", { class: "muted", text: e.subject || "Untitled meeting" }) : null,
      el("span", { class: "waiting muted", text: `waiting ${since(e.waiting_since)}` })),
    el("div", { class: "actions" },
      el("button", { class: "btn primary small", text: "Admit", attrs: { type: "button", "data-action": "admit", "aria-label": `Admit ${who}` }, on: { click: () => decide(e, true) } }),
      el("button", { class: "btn danger small", text: "Deny", attrs: { type: "button", "data-action": "deny", "aria-label": `Deny ${who}` }, on: { click: () => decide(e, false) } })));
}

async function decide(entry, admit) {
  unlockAudio();
  try {
    // Admitting acts as my participant in that meeting: open it first when needed.
    if (!current || (current.info || {}).id !== entry.meeting_id) await openMeeting(entry.meeting_id);
    if (!current) return;
    await (admit ? current.admit(entry.participant_id) : current.deny(entry.participant_id));
    handled.add(entry.participant_id);
    announce(status, `${entry.display_name} ${admit ? "admitted" : "denied"}`);
  } catch (e) {
    announce(status, `Could not ${admit ? "admit" : "deny"} ${entry.display_name}: ${e.message || e}`);
  }
  renderQueue();
}

// --- the helpdesk: my state, offers, visits, callbacks -------------------------------------
const STATE_LABEL = { available: "Available", busy: "Busy", away: "Away", offline: "Offline" };

// Offers are pushed: the server answers when something changed for me (an offer
// made, taken back, a visit moved), so an offer shows as it is made.
async function watchHelpdesk() {
  const mine = ++helpdeskWatch;
  while (mine === helpdeskWatch) {
    const rev = helpdesk && helpdesk.rev;
    if (!rev) {
      await loadHelpdesk();
      if (!(helpdesk && helpdesk.rev)) await new Promise((r) => setTimeout(r, POLL_MS));
      continue;
    }
    try {
      const data = await api(`/v1/me/helpdesk?after=${encodeURIComponent(rev)}&wait_s=25`);
      if (mine !== helpdeskWatch) return;
      showHelpdesk(data);
    } catch (e) {
      if (e.status === 401) return;
      await new Promise((r) => setTimeout(r, POLL_MS)); // transient: try again soon
    }
  }
}

async function loadHelpdesk() {
  let data;
  try {
    data = await api("/v1/me/helpdesk");
  } catch (e) {
    if (e.status === 403 || e.status === 404) { helpdesk = null; $("#helpdesk").hidden = true; }
    return; // otherwise transient: keep what is shown
  }
  showHelpdesk(data);
}

function showHelpdesk(data) {
  helpdesk = data;
  helpdeskAt = Date.now();
  renderHelpdesk();
  loadCallbacks();
}

function renderHelpdesk() {
  const hd = helpdesk;
  const member = hd && ((hd.queues || []).length > 0 || hd.offer || (hd.visits || []).length > 0);
  $("#helpdesk").hidden = !member;
  if (session && session.role === "supervisor") fillBoardQueues(hd ? hd.queues || [] : []);
  if (!member) return;
  const select = $("#agent-state");
  if (select.value !== hd.state) select.value = hd.state; // "busy" is shown, never chosen
  const cap = hd.capacity || {};
  $("#agent-capacity").textContent = `${STATE_LABEL[hd.state] || hd.state} · capacity ${cap.video ?? 0} video or ${cap.chats ?? 0} chats · queues ${(hd.queues || []).join(", ")}`;
  renderOffer(hd.offer);
  renderVisits(hd.visits || []);
}

async function onStateChange() {
  const wanted = $("#agent-state").value;
  if (wanted === "busy") return;
  unlockAudio();
  const err = $("#helpdesk-error");
  err.hidden = true;
  try {
    helpdesk = await api("/v1/me/helpdesk/state", { method: "PUT", body: { state: wanted } });
    helpdeskAt = Date.now();
    renderHelpdesk();
    announce(status, `You are now ${STATE_LABEL[helpdesk.state] || helpdesk.state}`);
  } catch (e) {
    if (e.status === 401) return;
    err.textContent = errorText(e);
    err.hidden = false;
  }
}

function renderOffer(offer) {
  const card = $("#offer");
  if (!offer) {
    card.hidden = true;
    offerId = null;
    return;
  }
  const fresh = offer.visit_id !== offerId;
  offerId = offer.visit_id;
  card.dataset.visitId = offer.visit_id;
  $("#offer-name").textContent = offer.display_name;
  $("#offer-topic").textContent = offer.topic || "any";
  $("#offer-language").textContent = offer.language || "any";
  $("#offer-medium").textContent = offer.medium === "chat" ? "Chat only" : "Video";
  $("#offer-context").textContent = offer.context || "";
  $("#offer-context").hidden = !offer.context;
  const note = $("#offer-note");
  note.textContent = offer.note ? `Transfer note: ${offer.note}` : "";
  note.hidden = !offer.note;
  card.hidden = false;
  tickOffer();
  if (fresh) {
    beep(660, 220);
    announce(status, `New visitor for you: ${offer.display_name}${offer.topic ? `, ${offer.topic}` : ""}`);
  }
}

function tickOffer() {
  const offer = helpdesk && helpdesk.offer;
  if (!offer) return;
  const waited = (offer.waiting_s || 0) + Math.max(0, (Date.now() - helpdeskAt) / 1000);
  $("#offer-waiting").textContent = formatSeconds(waited);
  const left = offer.offer_deadline ? (new Date(offer.offer_deadline).getTime() - Date.now()) / 1000 : null;
  $("#offer-deadline").textContent = left === null ? "" : left > 0 ? `${Math.ceil(left)} s` : "time is up";
}

function formatSeconds(s) {
  const n = Math.max(0, Math.floor(s));
  const m = Math.floor(n / 60);
  return m ? `${m} min ${n % 60} s` : `${n} s`;
}

async function answerOffer(accept) {
  unlockAudio();
  const offer = helpdesk && helpdesk.offer;
  if (!offer) return;
  const err = $("#helpdesk-error");
  err.hidden = true;
  const id = encodeURIComponent(offer.visit_id);
  try {
    const visit = await api(`/v1/me/helpdesk/visits/${id}/${accept ? "accept" : "decline"}`, { method: "POST" });
    helpdesk.offer = null;
    renderOffer(null);
    if (accept) {
      announce(status, `You took ${offer.display_name}`);
      const meetingId = (visit && visit.meeting_id) || offer.meeting_id;
      pendingAdmit = { meetingId, visitId: offer.visit_id, name: offer.display_name };
      await openMeeting(meetingId);
      admitPending();
    } else {
      announce(status, `Declined ${offer.display_name}`);
    }
  } catch (e) {
    if (e.status === 401) return;
    err.textContent = errorText(e);
    err.hidden = false;
  }
  loadHelpdesk();
}

// The visitor of the visit I accepted waits in its meeting's lobby: let them in
// once (now, or when they arrive). The entry naming the visit is taken; a
// visitor whose token predates visit ids: a vouched entry of that name.
async function admitPending() {
  const p = pendingAdmit;
  if (!p || !current || current.state !== "joined" || (current.info || {}).id !== p.meetingId) return;
  const lobby = current.lobby || [];
  const entry = lobby.find((e) => e.visit_id === p.visitId)
    || lobby.find((e) => !e.visit_id && e.display_name === p.name && e.vouched);
  if (!entry) return;
  pendingAdmit = null;
  try {
    await current.admit(entry.participant_id);
    handled.add(entry.participant_id);
    announce(status, `${entry.display_name} admitted`);
  } catch (e) {
    announce(status, `Could not admit ${entry.display_name}: ${e.message || e}`);
  }
  renderQueue();
}

function renderVisits(visits) {
  const list = $("#visits");
  $("#visits-empty").hidden = visits.length > 0;
  const key = visits.map((v) => v.visit_id).join(",");
  if (list.dataset.key === key) return; // unchanged: keep focus and a transfer being typed
  list.dataset.key = key;
  clear(list);
  for (const v of visits) list.append(visitItem(v));
}

function visitItem(v) {
  const who = v.display_name;
  const n = v.visit_id.replace(/[^A-Za-z0-9_-]/g, "");
  const form = el("form", { class: "transfer", attrs: { hidden: true, "aria-label": `Transfer ${who}` } },
    el("div", { class: "field-row" },
      el("div", { class: "field" },
        el("label", { text: "To queue", attrs: { for: `tq-${n}` } }),
        el("input", { attrs: { id: `tq-${n}`, name: "to_queue", maxlength: 63 } })),
      el("div", { class: "field" },
        el("label", { text: "To agent", attrs: { for: `ta-${n}` } }),
        el("input", { attrs: { id: `ta-${n}`, name: "to_agent", maxlength: 64 } }))),
    el("div", { class: "field" },
      el("label", { text: "Note for the next agent", attrs: { for: `tn-${n}` } }),
      el("textarea", { attrs: { id: `tn-${n}`, name: "note", maxlength: 1000, rows: 2 } })),
    el("p", { class: "error", attrs: { role: "alert", hidden: true } }),
    el("button", { class: "btn primary small", text: "Send transfer", attrs: { type: "submit" } }));
  form.addEventListener("submit", (event) => { event.preventDefault(); transferVisit(v, form); });
  const toggle = el("button", { class: "btn small", text: "Transfer",
    attrs: { type: "button", "data-action": "transfer", "aria-label": `Transfer ${who}`, "aria-expanded": "false" },
    on: { click: () => {
      form.hidden = !form.hidden;
      toggle.setAttribute("aria-expanded", String(!form.hidden));
      if (!form.hidden) form.querySelector("input").focus();
    } } });
  const facts = [v.medium === "chat" ? "chat only" : "video", v.topic, v.language, `queue ${v.queue}`].filter(Boolean).join(" · ");
  return el("li", { class: "meeting visit", data: { visitId: v.visit_id, meetingId: v.meeting_id } },
    el("div", { class: "meta" },
      el("strong", { text: who }),
      el("span", { class: "muted", text: facts }),
      v.context ? el("span", { class: "context", text: v.context }) : null,
      v.note ? el("span", { class: "note", text: `Transfer note: ${v.note}` }) : null),
    el("div", { class: "actions" },
      el("button", { class: "btn primary small", text: "Open", attrs: { type: "button", "data-action": "open", "aria-label": `Open the visit of ${who}` },
        on: { click: () => openMeeting(v.meeting_id) } }),
      toggle,
      el("button", { class: "btn small", text: "Complete", attrs: { type: "button", "data-action": "complete", "aria-label": `Complete the visit of ${who}` },
        on: { click: () => completeVisit(v) } })),
    form);
}

async function transferVisit(v, form) {
  const err = form.querySelector(".error");
  err.hidden = true;
  const toQueue = form.elements.to_queue.value.trim();
  const toAgent = form.elements.to_agent.value.trim();
  if (!toQueue && !toAgent) {
    err.textContent = "Name a queue or an agent.";
    err.hidden = false;
    return;
  }
  const body = { note: form.elements.note.value.trim() };
  if (toQueue) body.to_queue = toQueue;
  if (toAgent) body.to_agent = toAgent;
  try {
    await api(`/v1/me/helpdesk/visits/${encodeURIComponent(v.visit_id)}/transfer`, { method: "POST", body });
    announce(status, `${v.display_name} transferred to ${toAgent || toQueue}`);
    if (current && (current.info || {}).id === v.meeting_id) await backToDashboard();
  } catch (e) {
    if (e.status === 401) return;
    err.textContent = errorText(e);
    err.hidden = false;
    return;
  }
  loadHelpdesk();
}

async function completeVisit(v) {
  try {
    await api(`/v1/me/helpdesk/visits/${encodeURIComponent(v.visit_id)}/complete`, { method: "POST" });
    announce(status, `Visit of ${v.display_name} completed`);
  } catch (e) {
    if (e.status !== 401) announce(status, `Could not complete the visit: ${errorText(e)}`);
  }
  loadHelpdesk();
}

async function loadCallbacks() {
  let items;
  try {
    items = (await api("/v1/me/helpdesk/callbacks")).items.filter((c) => !c.resolved_at);
  } catch (e) {
    return;
  }
  const list = $("#callbacks");
  $("#callbacks-empty").hidden = items.length > 0;
  const key = items.map((c) => c.id).join(",");
  if (list.dataset.key === key) return;
  list.dataset.key = key;
  clear(list);
  for (const c of items) {
    list.append(el("li", { class: "meeting callback", data: { callbackId: c.id } },
      el("div", { class: "meta" },
        el("strong", { text: c.display_name }),
        el("span", { class: "muted", text: `${c.queue} · ${formatDateTime(c.created_at)}${c.contact ? ` · ${c.contact}` : ""}` }),
        el("span", { class: "context", text: c.message })),
      el("div", { class: "actions" },
        el("button", { class: "btn small", text: "Resolve", attrs: { type: "button", "data-action": "resolve", "aria-label": `Resolve the request of ${c.display_name}` },
          on: { click: () => resolveCallback(c) } }))));
  }
}

async function resolveCallback(c) {
  try {
    await api(`/v1/me/helpdesk/callbacks/${encodeURIComponent(c.id)}/resolve`, { method: "POST" });
    announce(status, `Request of ${c.display_name} resolved`);
  } catch (e) {
    if (e.status !== 401) announce(status, `Could not resolve the request: ${errorText(e)}`);
  }
  loadCallbacks();
}

// --- the supervisor's queue board -------------------------------------------------------
function fillBoardQueues(queues) {
  const list = $("#board-queues");
  const key = queues.join(",");
  if (list.dataset.key !== key) {
    list.dataset.key = key;
    clear(list);
    for (const q of queues) list.append(el("option", { attrs: { value: q } }));
  }
  if (!boardQueue && queues.length) { boardQueue = queues[0]; $("#board-queue").value = boardQueue; loadBoard(); }
}

async function loadBoard() {
  if (!boardQueue) return;
  const err = $("#board-error");
  let b;
  try {
    b = await api(`/v1/me/helpdesk/board/${encodeURIComponent(boardQueue)}`);
  } catch (e) {
    if (e.status === 401) return;
    if (e.status === 403) { $("#board").hidden = true; return; }
    err.textContent = errorText(e);
    err.hidden = false;
    clear($("#board-view"));
    return;
  }
  err.hidden = true;
  renderBoard(b);
}

function renderBoard(b) {
  const box = $("#board-view");
  clear(box);
  const level = b.service_level === null || b.service_level === undefined ? "no visit yet" : `${Math.round(b.service_level * 100)} %`;
  box.append(
    el("dl", { class: "facts board-facts", data: { queue: b.queue } },
      el("dt", { text: "Queue" }), el("dd", { text: `${b.queue} (${b.open ? "open" : "closed"})` }),
      el("dt", { text: "Waiting" }), el("dd", { class: "board-waiting", text: String(b.waiting) }),
      el("dt", { text: "Being offered" }), el("dd", { text: String(b.offered) }),
      el("dt", { text: "Longest wait" }), el("dd", { text: b.longest_wait_s === null ? "nobody waiting" : formatSeconds(b.longest_wait_s) }),
      el("dt", { text: "Service level" }), el("dd", { text: level }),
      el("dt", { text: "Handling time" }), el("dd", { text: b.handle_time_s === null ? "unknown" : formatSeconds(b.handle_time_s) })),
    el("table", { class: "board-agents" },
      el("caption", { text: `Agents of ${b.queue}` }),
      el("thead", {}, el("tr", {},
        el("th", { text: "Agent", attrs: { scope: "col" } }),
        el("th", { text: "State", attrs: { scope: "col" } }),
        el("th", { text: "Visits", attrs: { scope: "col" } }),
        el("th", { text: "Offer", attrs: { scope: "col" } }))),
      el("tbody", {}, ...b.agents.map((a) => el("tr", { data: { agent: a.agent } },
        el("th", { text: a.agent, attrs: { scope: "row" } }),
        el("td", { class: "agent-state", text: STATE_LABEL[a.state] || a.state }),
        el("td", { class: "agent-visits", text: String(a.visits.length) }),
        el("td", { text: a.offer ? "offered" : "" }))))));
}

function onBoardSubmit(event) {
  event.preventDefault();
  boardQueue = $("#board-queue").value.trim();
  loadBoard();
}

// --- in a meeting ---------------------------------------------------------------------
async function openMeeting(meetingId, { monitor = false } = {}) {
  unlockAudio();
  if (current && (current.info || {}).id === meetingId) { showScreen("meeting"); return; }
  if (current) await leaveCurrent();
  try {
    current = await joinAsUser({ baseUrl: location.origin, meetingId, sessionToken: session.token, monitor });
  } catch (e) {
    current = null;
    announce(status, `Could not open the meeting: ${errorText(e)}`);
    return;
  }
  window.frontdeskMeeting = current;
  const me = current;
  me.on("lobby", () => { renderQueue(); admitPending(); });
  me.on("left", ({ reason }) => { if (me === current) onLeft(reason); });
  view = new MeetingView($("#meeting-view"), me, {
    moderator: !monitor, staff: true, media: { audio: true, video: true }, status,
  });
  $("#back").hidden = false;
  showScreen("meeting");
  renderQueue();
}

function closeView() {
  if (view) view.destroy();
  view = null;
  current = null;
}

async function leaveCurrent() {
  const m = current;
  closeView();
  if (m && m.state !== "left") await m.leave().catch(() => {});
}

function onLeft(reason) {
  closeView();
  $("#back").hidden = true;
  const [title, text] = reason === "left" ? ["You left the meeting", "The meeting goes on for the others."]
    : reason === "meeting_ended" ? ["The meeting has ended", "It was ended for everyone."] : endText(reason);
  $("#end-title").textContent = title;
  $("#end-text").textContent = text;
  document.body.dataset.ended = reason || "unknown";
  showScreen("ended");
  loadMeetings();
  renderQueue();
}

async function backToDashboard() {
  await leaveCurrent();
  $("#back").hidden = true;
  showScreen("dashboard");
  loadMeetings();
}

// --- start ----------------------------------------------------------------------------
$("#signin-form").addEventListener("submit", onSignIn);
$("#new-form").addEventListener("submit", onCreate);
$("#signout").addEventListener("click", () => signOut());
$("#back").addEventListener("click", backToDashboard);
$("#end-back").addEventListener("click", backToDashboard);
$("#agent-state").addEventListener("change", onStateChange);
$("#offer-accept").addEventListener("click", () => answerOffer(true));
$("#offer-decline").addEventListener("click", () => answerOffer(false));
$("#board-form").addEventListener("submit", onBoardSubmit);
window.addEventListener("focus", () => { unseenArrival = false; if (session) renderQueue(); });

(async () => {
  try { session = JSON.parse(sessionStorage.getItem(KEY) || "null"); } catch { session = null; }
  if (!session) { showScreen("signin"); $("#username").focus(); return; }
  try {
    const me = await api("/v1/me");
    session.display_name = me.display_name;
    session.role = me.role;
    await showDashboard();
  } catch {
    if (session) signOut();
  }
})();
