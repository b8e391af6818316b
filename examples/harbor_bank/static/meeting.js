// Harbor Bank's meeting page. The bank's back end hands over the join material;
// the Frontdesk browser SDK (served by the Frontdesk node, mapped to "frontdesk"
// by the import map in meeting.html) does the rest. Every word the customer
// reads is set with textContent: nothing from the network is read as HTML.
import { join, joinWithToken } from "frontdesk";

const { mode, topic, language } = document.body.dataset;  // mode: "video" | "chat" | "office"
const $ = (id) => document.getElementById(id);
const say = (text) => { $("status").textContent = text; };
const when = (iso) => new Date(iso).toLocaleString(undefined, {
  weekday: "long", day: "numeric", month: "long", hour: "2-digit", minute: "2-digit",
});
const time = (iso) => new Date(iso).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
const minutes = (s) => { const m = Math.max(1, Math.round(s / 60)); return `${m} minute${m === 1 ? "" : "s"}`; };

let meeting = null;
let visit = null;  // the helpdesk visit: {state, position, estimated_wait_s}, live from Frontdesk
let handover = null;  // during a transfer: the id of the advisor who handed the call on

/** An error whose message is meant for the customer as it is. */
class Plain extends Error {}

async function post(path, body) {
  // Same-origin requests carry the bank's session cookie; not signed in -> 401.
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  return { response, data: await response.json().catch(() => ({})) };
}

async function joinMaterial() {
  if (mode === "office") {
    const { response, data } = await post("/api/office-hours/join", {});
    if (response.status === 409) {
      throw new Plain(`Your office hours start ${when(data.start)}. You can join from ${time(data.opens)}.`);
    }
    if (response.status === 404) {
      throw new Plain("You have no office hours booked, or they are over. You can book a place on your accounts page.");
    }
    if (!response.ok) throw new Error(data.error || `the bank answered ${response.status}`);
    return data;
  }
  const { response, data } = await post("/api/advisor", { mode, topic, language });
  if (response.status === 409) return showClosed(data);
  if (response.status === 401) throw new Plain("Please sign in again.");
  if (!response.ok) throw new Error(data.error || `the bank answered ${response.status}`);
  visit = { state: "queued", position: data.position, estimated_wait_s: data.estimated_wait_s };
  return data;
}

// --- the queue ------------------------------------------------------------------------
function visitText(v, joined) {
  if (v.state === "offered") {
    return joined ? "Another advisor is being asked to take over your call…" : "An advisor is being asked to take your call…";
  }
  if (v.state === "accepted") {
    return joined ? "Another advisor has taken your call and is joining…" : "An advisor has taken your call and is joining…";
  }
  if (v.state !== "queued") return "";
  if (joined) return "Your call is being passed to another advisor…";
  if (!v.position) return "Waiting for the next available advisor…";
  const wait = v.estimated_wait_s == null ? "we cannot estimate the wait yet" : `about ${minutes(v.estimated_wait_s)}`;
  return `You are number ${v.position}, ${wait}.`;
}

function showWaiting() {
  if (visit) { say(visitText(visit, false)); return; }
  // office hours: the meeting's own lobby
  const where = meeting.lobbyPosition ? ` (you are number ${meeting.lobbyPosition})` : "";
  const who = meeting.organizerPresent ? "Your advisor will let you in shortly" : "Waiting for your advisor";
  say(`${who}${where}…`);
}

function showClosed(data) {
  $("call").hidden = true;
  $("closed").hidden = false;
  if (data.error === "queue_closed") {
    say("Our advisors are not available right now.");
    $("closed-text").textContent = data.next_opening
      ? `We are open again ${when(data.next_opening)}.`
      : "We do not know yet when we are open again.";
  } else {
    say("All our advisors are busy, and the wait would be too long right now.");
    $("closed-text").textContent = "Please try again later.";
  }
  return null;
}

$("message-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("message-send").disabled = true;
  const { response } = await post("/api/message", { message: $("message").value, contact: $("contact").value });
  if (response.ok) {
    $("message-form").hidden = true;
    say("Thank you. Your message has been passed on, and an advisor will get back to you.");
  } else {
    $("message-send").disabled = false;
    say("Your message could not be sent. Please try again.");
  }
});

// --- the call -----------------------------------------------------------------------
function advisor() {
  // the advisor who came last (after a transfer, the new one, whatever their role)
  const others = [...meeting.roster.values()].filter((p) => p.id !== meeting.participantId);
  return others.filter((p) => p.role !== "guest").pop() || others.pop() || null;
}

function showTalking() {
  const who = advisor();
  // a transfer is over once another advisor has taken the call and is here
  if (handover !== null && visit.state === "accepted" && who && who.id !== handover) handover = null;
  if (handover !== null) say(visitText(visit, true));
  else if (who) say(`You are talking to ${who.display_name}.`);
  else say("Your advisor is joining…");
}

function showMessage(message) {
  if ($("chat").querySelector(`[data-seq="${message.seq}"]`)) return;  // shown already
  const item = document.createElement("li");
  item.dataset.seq = message.seq;
  const who = document.createElement("span");
  who.className = "who";
  who.textContent = message.display_name;
  item.append(who, document.createTextNode(message.text));
  $("chat").append(item);
  $("chat").scrollTop = $("chat").scrollHeight;
}

function showRemote(pid, stream) {
  const video = $("remote-video");
  video.srcObject = stream;
  video.dataset.participant = pid || "";
  const person = pid && meeting.roster.get(pid);
  $("remote-name").textContent = person ? person.display_name : "Your advisor";
}

const ENDED = {
  left: "You left the conversation.",
  meeting_ended: "The conversation has ended. Thank you for talking to Harbor Bank.",
  removed: "Your advisor has closed the conversation.",
  denied: "An advisor could not take your call this time. Please try again later.",
  lobby_timeout: "Nobody could take your call in time. Please try again later.",
  connection_lost: "The connection was lost. Please check your internet connection and try again.",
  token_expired: "This link has expired. Please start again from your accounts page.",
  revoked: "This conversation is no longer available. Please start again from your accounts page.",
};

function showEnded(reason) {
  say(ENDED[reason] || "The conversation has ended.");
  for (const video of [$("remote-video"), $("local-video")]) video.srcObject = null;
  $("videos").hidden = true;
  $("chat-input").disabled = $("chat-send").disabled = true;
  $("chat-input").placeholder = "The conversation has ended";
  $("leave").hidden = true;
  $("ended").hidden = false;
  document.body.classList.add("ended");
}

async function main() {
  const material = await joinMaterial();
  if (!material) return;  // closed or full: the page offers a message instead
  // "Chat with us" is chat only: the SDK then never opens a peer connection, so
  // neither the camera nor the advisor's audio and video are ever involved.
  const media = mode !== "chat";
  meeting = material.token
    ? await joinWithToken({ discoveryUri: material.discovery_uri, token: material.token, media })
    : await join({ joinUrl: material.join_url, displayName: material.display_name, media });
  window.harborMeeting = meeting;  // handy in the console (and for the browser test)

  meeting.on("chat", showMessage);
  meeting.on("visit_position", (v) => {
    visit = v;
    if (meeting.state === "lobby") showWaiting();
    if (meeting.state !== "joined") return;
    if (v.state === "queued" || v.state === "offered") handover ??= advisor()?.id ?? "";
    showTalking();
  });
  meeting.on("event", (e) => { if (e.name === "lobby_position" && meeting.state === "lobby") showWaiting(); });
  meeting.on("roster", () => {
    if (meeting.state !== "joined") return;
    showTalking();
    const shown = $("remote-video").dataset.participant;
    if (shown && meeting.roster.has(shown)) $("remote-name").textContent = meeting.roster.get(shown).display_name;
  });
  meeting.on("left", ({ reason }) => showEnded(reason));
  if (media) {
    meeting.on("track", ({ participantId, stream }) => showRemote(participantId, stream));
    meeting.on("trackended", ({ participantId }) => {
      if ($("remote-video").dataset.participant !== participantId) return;
      const [next] = meeting.remoteStreams.entries();  // someone else still sending (a transfer)
      if (next) showRemote(next[0], next[1]); else showRemote(null, null);
    });
    meeting.on("localstream", (stream) => { $("local-video").srcObject = stream; });
  }
  meeting.chat.forEach(showMessage);

  $("chat-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = $("chat-input").value.trim();
    if (!text) return;
    $("chat-input").value = "";
    await meeting.sendChat(text);
  });
  $("leave").addEventListener("click", () => meeting.leave());

  if (meeting.state === "lobby") showWaiting();
  await meeting.admitted();
  // Let in means taken (whatever update was missed); what comes later is a transfer.
  if (visit) visit = { ...visit, state: "accepted" };
  showTalking();
  $("chat-input").disabled = $("chat-send").disabled = false;
  if (media) {
    $("videos").hidden = false;
    try {
      await meeting.startMedia({ audio: true, video: true });
    } catch (err) {
      console.warn("media", err);
      say("Your camera or microphone is not available. You can still write to your advisor.");
    }
  }
}

main().catch((err) => {
  if (meeting && meeting.state === "left") return;  // the end screen says why
  console.warn("harbor bank", err);
  say(err instanceof Plain ? err.message : "We could not connect you right now. Please try again in a moment.");
});
