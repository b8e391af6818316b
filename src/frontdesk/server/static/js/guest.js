// The guest page (/j/{code}): name, camera/mic preview, lobby, meeting, end screen.
// With a "#token=...&discovery=..." fragment it joins with the guest token instead
// of the join URL (the token's name is shown and cannot be changed).
import { describeError, join, joinWithToken, tabKey } from "/sdk/frontdesk.js";
import { applyBrand, businessName, endScreen, FINAL, preflight, startsText } from "/static/js/brand.js";
import {
  $, announce, fillSelect, formatDuration, jwtPayload, listDevices, showScreen, until,
} from "/static/js/ui.js";
import { MeetingView } from "/static/js/meeting_view.js";

const status = $("#status");
const form = $("#join-form");
const nameInput = $("#name");
const preview = $("#preview");
const cameraSelect = $("#camera");
const micSelect = $("#microphone");
const useCamera = $("#use-camera");
const useMic = $("#use-mic");
const joinBtn = $("#join");
const joinError = $("#join-error");

const fragment = new URLSearchParams(location.hash.slice(1));
const token = fragment.get("token");
const discoveryUri = fragment.get("discovery");

let previewStream = null;
// The preview being opened (or closed): a Join waits for it, so the camera and
// microphone it found are known before deciding what to send. Without the wait a
// quick Join saw "no camera, no microphone" and joined sending nothing at all.
let previewReady = Promise.resolve();
let previewGen = 0;
let previewBusy = false;
let cameraOk = false; // a camera works (even if "Join with camera on" is unchecked)
let micOk = false;
let meeting = null;
let view = null;
let lobbyTimer = null;
let lobbySaid = null; // the position / host presence last announced

function setupToken() {
  if (!token) return;
  const claims = jwtPayload(token);
  if (claims.name) {
    nameInput.value = claims.name;
    nameInput.readOnly = true;
    $("#name-help").textContent = "Your name was provided with your invitation.";
  }
  if (typeof claims.exp === "number" && claims.exp * 1000 < Date.now()) {
    showEnd("token_expired");
  }
}

// --- preview -------------------------------------------------------------------
function stopPreview() {
  if (previewStream) for (const t of previewStream.getTracks()) t.stop();
  previewStream = null;
  preview.srcObject = null;
}

/** Open (again) the preview; a Join waits for the last one asked for. */
function startPreview() {
  const gen = ++previewGen;
  previewBusy = true;
  previewReady = openPreview(gen).finally(() => { if (gen === previewGen) previewBusy = false; });
  return previewReady;
}

async function openPreview(gen) {
  // The checkboxes may change again while a camera opens: only the newest
  // request's stream stays; an older one that arrives late is closed at once.
  await previewReady.catch(() => {});
  if (gen !== previewGen) return;
  stopPreview();
  const wantVideo = useCamera.checked;
  $("#preview-off").hidden = wantVideo;
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    mediaUnavailable("This browser cannot use a camera or microphone here.");
    return;
  }
  const video = wantVideo ? (cameraSelect.value ? { deviceId: { exact: cameraSelect.value } } : true) : false;
  const audio = micSelect.value ? { deviceId: { exact: micSelect.value } } : true;
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ audio, video });
    cameraOk = cameraOk || stream.getVideoTracks().length > 0;
    if (gen !== previewGen) { for (const t of stream.getTracks()) t.stop(); return; }
    previewStream = stream;
    micOk = previewStream.getAudioTracks().length > 0;
    preview.srcObject = previewStream;
    $("#preview-off").hidden = wantVideo;
    await refreshDevices();
  } catch (err) {
    // Perhaps only the camera is missing: try the microphone alone.
    if (video) {
      try {
        const stream = await navigator.mediaDevices.getUserMedia({ audio, video: false });
        if (gen !== previewGen) { for (const t of stream.getTracks()) t.stop(); return; }
        previewStream = stream;
        micOk = true;
        cameraOk = false;
        useCamera.checked = false;
        useCamera.disabled = true;
        $("#preview-off").hidden = false;
        showMediaHelp("No camera is available: you will join with your microphone only.");
        await refreshDevices();
        return;
      } catch { /* neither works */ }
    }
    mediaUnavailable("Camera and microphone are not available (permission denied or no device). " +
      "You can still join and chat.");
    console.warn("preview", err);
  }
}

function showMediaHelp(text) {
  const help = $("#media-help");
  help.textContent = text;
  help.hidden = false;
}

function mediaUnavailable(text) {
  cameraOk = false;
  micOk = false;
  useCamera.checked = false;
  useMic.checked = false;
  useCamera.disabled = true;
  useMic.disabled = true;
  cameraSelect.disabled = true;
  micSelect.disabled = true;
  $("#preview-off").hidden = false;
  showMediaHelp(text);
}

async function refreshDevices() {
  const { audioinputs, videoinputs } = await listDevices();
  fillSelect(cameraSelect, videoinputs, "Camera");
  fillSelect(micSelect, audioinputs, "Microphone");
  const track = previewStream && previewStream.getVideoTracks()[0];
  if (track && track.getSettings().deviceId) cameraSelect.value = track.getSettings().deviceId;
  const mic = previewStream && previewStream.getAudioTracks()[0];
  if (mic && mic.getSettings().deviceId) micSelect.value = mic.getSettings().deviceId;
}

// --- joining ---------------------------------------------------------------------
/** Wait for the camera and microphone the preview is opening, saying so. */
async function waitForPreview() {
  if (previewBusy) {
    const what = useCamera.checked && !useCamera.disabled ? "Starting your camera…" : "Starting your microphone…";
    joinBtn.textContent = what;
    announce(status, what);
  }
  let seen;
  do {
    seen = previewReady;
    await seen.catch(() => {});
  } while (seen !== previewReady); // a box changed meanwhile: wait for that one too
}

async function onJoin(event) {
  event.preventDefault();
  const displayName = nameInput.value.trim();
  joinError.hidden = true;
  nameInput.removeAttribute("aria-invalid");
  if (!token && !displayName) {
    nameInput.setAttribute("aria-invalid", "true");
    joinError.textContent = "Please enter your name.";
    joinError.hidden = false;
    nameInput.focus();
    return;
  }
  joinBtn.disabled = true;
  await waitForPreview();
  // Unchecked boxes start muted / camera off; the SDK then never opens the camera
  // until "Camera on" is pressed in the meeting.
  const media = {
    audio: micOk,
    video: cameraOk,
    audioDeviceId: micSelect.value || undefined,
    videoDeviceId: cameraSelect.value || undefined,
    startAudioMuted: micOk && !useMic.checked,
    startVideoMuted: cameraOk && !useCamera.checked,
  };
  joinBtn.textContent = "Joining…";
  stopPreview();
  try {
    // The tab's key: a reload takes back this visitor's seat (one row each).
    const clientKey = tabKey();
    meeting = token && discoveryUri
      ? await joinWithToken({ discoveryUri, token, clientKey })
      : await join({ joinUrl: location.href.split("#")[0], displayName, clientKey });
  } catch (err) {
    joinBtn.disabled = false;
    joinBtn.textContent = "Join";
    if (err && FINAL.has(err.code)) {
      // ended since the page was opened: the visitor was never in it
      showEnd(err.code, err.code === "meeting_ended" ? "link_ended" : undefined);
      return;
    }
    joinError.textContent = describeError(err, { business: businessName() });
    joinError.hidden = false;
    joinError.focus();
    startPreview();
    return;
  }
  window.frontdeskMeeting = meeting;
  meeting.on("state", ({ state }) => onState(state, media));
  meeting.on("event", () => { if (meeting.state === "lobby") renderLobby(); });
  meeting.on("visit_position", () => { if (meeting.state === "lobby") renderLobby(); });
  meeting.on("left", ({ reason }) => showEnd(reason));
  onState(meeting.state, media);
}

function onState(state, media) {
  $("#lobby-reconnecting").hidden = state !== "reconnecting";
  if (state === "lobby") {
    if ($("#lobby").hidden) {
      showScreen("lobby");
      announce(status, "You are in the lobby. The host will let you in.");
    }
    renderLobby();
    clearInterval(lobbyTimer);
    lobbyTimer = setInterval(renderLobby, 1000);
  } else if (state === "joined" && !view) {
    clearInterval(lobbyTimer);
    document.body.classList.add("in-meeting");
    view = new MeetingView($("#meeting"), meeting, { media, status });
    showScreen("meeting");
    announce(status, "You joined the meeting.");
  } else if (state === "left") {
    showEnd(meeting.leftReason);
  }
}

/** "You are number 3, about 2 minutes": a helpdesk visit's place and estimate
 * (textContent only: nothing here is read as HTML). */
function visitText(v) {
  if (v.state === "offered") return "An advisor is being asked to take your call.";
  if (v.state === "accepted") return "An advisor has taken your call and is joining.";
  if (v.state !== "queued" || !v.position) return "";
  const place = v.position === 1 ? "You are next" : `You are number ${v.position}`;
  if (v.estimated_wait_s == null) return `${place}; we cannot estimate the wait yet.`;
  const minutes = Math.max(1, Math.round(v.estimated_wait_s / 60));
  return `${place}, about ${minutes} minute${minutes === 1 ? "" : "s"}.`;
}

function organizerName() {
  const info = (meeting && meeting.info) || {};
  return info.organizer_display_name || info.organizer_name || "the advisor";
}

function renderLobby() {
  if (!meeting) return;
  const visit = meeting.visitPosition;
  // A helpdesk visit has no advisor until one accepts: do not name the placeholder.
  $("#lobby-text").textContent = visit
    ? "Waiting for the next available advisor."
    : `Waiting for ${organizerName()} to let you in.`;
  const pos = visit ? visit.position : meeting.lobbyPosition;
  const posText = visit ? visitText(visit) : pos
    ? (pos === 1 ? "You are next in the queue." : `You are number ${pos} in the queue.`)
    : "";
  $("#lobby-position").textContent = posText;
  const orgNote = $("#lobby-organizer");
  orgNote.hidden = !!visit || meeting.organizerPresent !== false;
  orgNote.textContent = `${capitalize(organizerName())} has not joined yet. You will be let in once they arrive.`;
  // Say only what changed (the queue position, the host arriving), never the clock.
  const said = `${visit ? visit.state + ":" : ""}${pos}|${meeting.organizerPresent}`;
  if (lobbySaid !== null && said !== lobbySaid) {
    const parts = [posText];
    if (visit) { /* the visit's own words say it all */ }
    else if (meeting.organizerPresent === true && !lobbySaid.endsWith("|true")) parts.push(`${capitalize(organizerName())} has joined.`);
    else if (meeting.organizerPresent === false) parts.push(orgNote.textContent);
    const text = parts.filter(Boolean).join(" ");
    if (text) announce(status, text);
  }
  lobbySaid = said;
  const left = meeting.lobbyTimeoutAt ? until(meeting.lobbyTimeoutAt) : null;
  $("#lobby-timeout").textContent = left === null
    ? "Please keep this page open."
    : `If nobody lets you in within ${formatDuration(left)}, the wait ends and you can try to join again.`;
}

function capitalize(text) {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function showEnd(reason, screen) {
  clearInterval(lobbyTimer);
  stopPreview();
  if (view) { view.destroy(); view = null; }
  document.body.classList.remove("in-meeting");
  const [title, text] = endScreen(reason, businessName(), screen);
  $("#end-title").textContent = title;
  $("#end-text").textContent = text;
  const rejoin = $("#rejoin");
  rejoin.hidden = !["left", "lobby_timeout", "connection_lost"].includes(reason) || (token && reason !== "connection_lost");
  rejoin.href = location.href;
  document.body.dataset.ended = reason || "unknown";
  showScreen("ended");
  announce(status, `${title}. ${text}`);
}

$("#lobby-leave").addEventListener("click", async () => {
  if (meeting) {
    try { await meeting.leave(); } catch (err) { console.warn("leave", err); }
  }
});
$("#rejoin").addEventListener("click", (e) => { e.preventDefault(); location.reload(); });
form.addEventListener("submit", onJoin);
useCamera.addEventListener("change", startPreview);
cameraSelect.addEventListener("change", startPreview);
micSelect.addEventListener("change", startPreview);

// --- before the form: is the link good, and whose meeting is it? -----------------
function showSetup() {
  showScreen("setup");
  if (!nameInput.readOnly) nameInput.focus();
  startPreview();
}

async function start() {
  const { code, info } = await preflight({ token, discoveryUri });
  if (info) applyBrand(info.brand, info.subject);
  // Nothing to join: say so (and whom to ask) before a name is typed.
  const ended = code === "meeting_ended" || (info && info.state === "ended");
  if (ended) { showEnd("meeting_ended", "link_ended"); return; }
  if (code && FINAL.has(code)) { showEnd(code); return; }
  setupToken();
  if (!$("#ended").hidden) return;
  if (info && info.state === "scheduled" && info.starts_at) {
    $("#starts-at").textContent = startsText(info.starts_at);
    showScreen("not-started");
    return;
  }
  showSetup();
}

$("#continue").addEventListener("click", showSetup);
start();
