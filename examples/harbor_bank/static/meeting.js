// Harbor Bank's meeting page. The bank's back end hands over the join material;
// the Frontdesk browser SDK (served by the Frontdesk node, mapped to "frontdesk"
// by the import map in meeting.html) does the rest.
import { join, joinWithToken } from "frontdesk";

const mode = document.body.dataset.mode;          // "video" | "chat" | "office"
const $ = (id) => document.getElementById(id);
const say = (text) => { $("status").textContent = text; };

async function joinMaterial() {
  // Same-origin requests carry the bank's session cookie; not signed in -> 401.
  const path = mode === "office" ? "/api/office-hours" : "/api/advisor";
  const body = mode === "office" ? {} : { mode };
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const data = await response.json();
  if (!response.ok) throw new Error(data.error || `the bank answered ${response.status}`);
  return data;
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

function showLobby(meeting) {
  const where = meeting.lobbyPosition ? ` (you are number ${meeting.lobbyPosition})` : "";
  const who = meeting.organizerPresent ? "Your advisor will let you in shortly" : "Waiting for an advisor";
  say(`${who}${where}…`);
}

async function main() {
  const material = await joinMaterial();
  // "Chat with us" is chat only: the SDK then never opens a peer connection, so
  // neither the camera nor the advisor's audio and video are ever involved.
  const media = mode !== "chat";
  const meeting = material.token
    ? await joinWithToken({ discoveryUri: material.discovery_uri, token: material.token, media })
    : await join({ joinUrl: material.join_url, displayName: material.display_name, media });
  window.harborMeeting = meeting;  // handy in the console (and for the browser test)

  meeting.on("chat", showMessage);
  meeting.on("event", (e) => { if (e.name === "lobby_position") showLobby(meeting); });
  meeting.on("left", ({ reason }) => {
    say(reason === "left" ? "You left the conversation." : `The conversation ended (${reason}).`);
    $("chat-input").disabled = $("chat-send").disabled = true;
  });
  if (media) {
    meeting.on("track", ({ stream }) => { $("remote-video").srcObject = stream; });
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

  if (meeting.state === "lobby") showLobby(meeting);
  await meeting.admitted();
  say(`You are talking to ${mode === "chat" ? "us" : "your advisor"}.`);
  $("chat-input").disabled = $("chat-send").disabled = false;
  if (media) {
    $("videos").hidden = false;
    try {
      await meeting.startMedia({ audio: true, video: true });
    } catch (err) {
      say(`Camera or microphone unavailable (${err.code || err}); chat still works.`);
    }
  }
}

main().catch((err) => say(`Could not connect: ${err.message || err.code || err}`));
