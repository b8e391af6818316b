"""The browser SDK in real Chromium (fake camera and microphone) against a real node:
token join, lobby, admission, WebRTC media both ways, chat, mute, resume, leave."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.support.live_server import LiveServer

PASSWORD = "correct horse battery"

STATS_JS = """async (pid) => {
  const pc = window.m.peerConnection(pid);
  const out = {frames: 0, audioIn: 0, audioOut: 0, videoOut: 0};
  if (!pc) return out;
  (await pc.getStats()).forEach((r) => {
    if (r.type === "inbound-rtp" && r.kind === "video") out.frames += r.framesDecoded || 0;
    if (r.type === "inbound-rtp" && r.kind === "audio") out.audioIn += r.packetsReceived || 0;
    if (r.type === "outbound-rtp" && r.kind === "audio") out.audioOut += r.packetsSent || 0;
    if (r.type === "outbound-rtp" && r.kind === "video") out.videoOut += r.packetsSent || 0;
  });
  return out;
}"""

SNAPSHOT_JS = """() => ({
  state: window.m.state,
  pid: window.m.participantId,
  lobby: window.m.lobby.map((e) => e.participant_id),
  roster: [...window.m.roster.values()].map((p) => [p.id, p.state]),
  chat: window.m.chat.map((c) => [c.seq, c.text]),
  leftReason: window.m.leftReason,
  lobbyPosition: window.m.lobbyPosition,
})"""


async def open_page(browser: Any, node: LiveServer) -> Any:
    """A same-origin page with the SDK imported as ``window.fd``."""
    context = await browser.new_context(viewport={"width": 640, "height": 480})
    page = await context.new_page()
    page.on("pageerror", lambda exc: print("page error:", exc))
    await page.goto(node.base_url + "/healthz")
    await page.evaluate(
        "async (base) => { window.fd = await import(base + '/sdk/frontdesk.js'); }",
        node.base_url,
    )
    return page


async def until(
    page: Any, js: str, arg: Any, check: Callable[[Any], bool], timeout: float = 15.0
) -> Any:
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = await page.evaluate(js, arg)
        if check(value):
            return value
        await asyncio.sleep(0.2)
    raise AssertionError(f"condition not met within {timeout}s; last value: {value!r}")


async def snapshot(page: Any) -> dict[str, Any]:
    return dict(await page.evaluate(SNAPSHOT_JS))


async def join_agent(page: Any, node: LiveServer, meeting_id: str) -> str:
    return str(
        await page.evaluate(
            """async ([base, meetingId, password]) => {
              const s = await fd.login({baseUrl: base, username: "alice", password});
              window.m = await fd.joinAsUser({baseUrl: base, meetingId, sessionToken: s.token});
              return window.m.participantId;
            }""",
            [node.base_url, meeting_id, PASSWORD],
        )
    )


async def admit_guest(agent: Any, guest: Any) -> str:
    guest_pid = (await snapshot(guest))["pid"]
    await until(agent, SNAPSHOT_JS, None, lambda s: guest_pid in s["lobby"])
    await agent.evaluate("(pid) => window.m.admit(pid)", guest_pid)
    await guest.evaluate("() => window.m.admitted()")
    assert (await snapshot(guest))["state"] == "joined"
    return str(guest_pid)


async def test_token_guest_and_agent_call_with_media_chat_mute_and_leave(
    browser: Any, node: LiveServer, artifacts: Path
) -> None:
    meeting = await node.ops.meetings.create(subject="SDK call", organizer="alice")
    grant = await node.ops.guest_tokens.mint(meeting.id, display_name="Gina Guest")
    agent = await open_page(browser, node)
    guest = await open_page(browser, node)

    agent_pid = await join_agent(agent, node, meeting.id)
    state = await guest.evaluate(
        """async ([discoveryUri, token]) => {
          window.m = await fd.joinWithToken({discoveryUri, token});
          return window.m.state;
        }""",
        [grant.discovery_uri, grant.token],
    )
    assert state == "lobby"
    assert (await snapshot(guest))["lobbyPosition"] == 1
    guest_pid = await admit_guest(agent, guest)

    await agent.evaluate("() => window.m.startMedia({audio: true, video: true})")
    await guest.evaluate("() => window.m.startMedia({audio: true, video: true})")

    def flowing(s: dict[str, Any]) -> bool:
        return bool(s["frames"] > 10 and s["audioIn"] > 20)

    a0 = await until(agent, STATS_JS, guest_pid, flowing, timeout=20)
    g0 = await until(guest, STATS_JS, agent_pid, flowing, timeout=20)
    await asyncio.sleep(1.0)
    a1 = await agent.evaluate(STATS_JS, guest_pid)
    g1 = await guest.evaluate(STATS_JS, agent_pid)
    assert a1["frames"] > a0["frames"] and a1["audioIn"] > a0["audioIn"]
    assert g1["frames"] > g0["frames"] and g1["audioIn"] > g0["audioIn"]

    # chat both ways: resolved with the stored message, seen once by the other side
    sent = await guest.evaluate("() => window.m.sendChat('hello from the guest')")
    assert sent["text"] == "hello from the guest" and sent["seq"] > 0
    await agent.evaluate("() => window.m.sendChat('hello from the agent')")
    for page in (agent, guest):
        snap = await until(page, SNAPSHOT_JS, None, lambda s: len(s["chat"]) == 2)
        assert [t for _, t in snap["chat"]] == ["hello from the guest", "hello from the agent"]

    # the screenshot: both videos as the SDK delivers them
    await guest.evaluate(
        """(pid) => {
          document.body.textContent = "";
          for (const stream of [window.m.remoteStreams.get(pid), window.m.localStream]) {
            const v = document.createElement("video");
            v.muted = true; v.autoplay = true; v.srcObject = stream;
            v.style.width = "300px"; v.style.margin = "4px";
            document.body.appendChild(v);
          }
        }""",
        agent_pid,
    )
    await until(
        guest,
        "() => [...document.querySelectorAll('video')].every((v) => v.videoWidth > 0)",
        None,
        bool,
    )
    await guest.screenshot(path=str(artifacts / "sdk-guest-call.png"))

    # mute: the guest stops sending audio, so the agent stops receiving it
    await guest.evaluate("() => window.m.setAudioMuted(true)")
    await until(agent, "(pid) => window.m.roster.get(pid).audio_muted", guest_pid, bool)
    await asyncio.sleep(1.0)  # packets in flight arrive
    m0 = await agent.evaluate(STATS_JS, guest_pid)
    s0 = await guest.evaluate(STATS_JS, agent_pid)
    await asyncio.sleep(1.5)
    m1 = await agent.evaluate(STATS_JS, guest_pid)
    s1 = await guest.evaluate(STATS_JS, agent_pid)
    assert m1["audioIn"] == m0["audioIn"], (m0, m1)
    assert s1["audioOut"] == s0["audioOut"], (s0, s1)
    assert m1["frames"] > m0["frames"]  # video still flows

    # camera off: the camera is released and no video goes out; on again: it flows again
    await guest.evaluate("() => window.m.setVideoMuted(true)")
    assert await guest.evaluate("() => window.m.localStream.getVideoTracks().length") == 0
    await asyncio.sleep(0.5)
    v0 = await guest.evaluate(STATS_JS, agent_pid)
    await asyncio.sleep(1.0)
    v1 = await guest.evaluate(STATS_JS, agent_pid)
    assert v1["videoOut"] == v0["videoOut"], (v0, v1)
    await guest.evaluate("() => window.m.setVideoMuted(false)")
    f0 = await agent.evaluate(STATS_JS, guest_pid)
    await until(agent, STATS_JS, guest_pid, lambda s: s["frames"] > f0["frames"] + 5)

    # leave: the guest ends cleanly, the agent's roster and peer connection drop it
    await guest.evaluate("() => window.m.leave()")
    snap = await snapshot(guest)
    assert snap["state"] == "left" and snap["leftReason"] == "left"
    await until(agent, SNAPSHOT_JS, None, lambda s: guest_pid not in dict(s["roster"]))
    assert await agent.evaluate("(pid) => window.m.peerConnection(pid)", guest_pid) is None
    await agent.evaluate("() => window.m.end()")
    snap = await snapshot(agent)
    assert snap["state"] == "left" and snap["leftReason"] == "meeting_ended"


async def test_url_guest_chat_only_fallback_and_resume_exactly_once(
    browser: Any, node: LiveServer
) -> None:
    meeting = await node.ops.meetings.create(subject="SDK resume", organizer="alice")
    agent = await open_page(browser, node)
    guest = await open_page(browser, node)
    await join_agent(agent, node, meeting.id)
    await guest.evaluate(
        """async (joinUrl) => {
          window.m = await fd.join({joinUrl, displayName: "Uma URL"});
          window.states = [];
          window.m.on("state", (s) => window.states.push(s.state));
          window.chats = [];
          window.m.on("chat", (c) => window.chats.push(c.text));
        }""",
        node.ops.meetings.join_url(meeting),
    )
    guest_pid = await admit_guest(agent, guest)

    # no such camera: chat-only, the session goes on
    code = await guest.evaluate(
        """() => window.m.startMedia({audio: false, video: true, videoDeviceId: "no-such-camera"})
          .then(() => "started", (e) => e.code)"""
    )
    assert code == "media_unavailable"
    assert (await snapshot(guest))["state"] == "joined"

    # drop the guest's connection and keep it away until the agent sees it reconnecting
    await guest.evaluate(
        """() => { window.realUrl = window.m.rtcUrl;
                   window.m.rtcUrl = "ws://127.0.0.1:9/v1/rtc"; window.m._ws.close(); }"""
    )
    await until(agent, SNAPSHOT_JS, None, lambda s: [guest_pid, "reconnecting"] in s["roster"])
    await agent.evaluate("() => window.m.sendChat('sent while you were away')")
    pending = guest.evaluate("() => window.m.sendChat('queued while offline')")
    await until(guest, "() => window.states.includes('reconnecting')", None, bool)
    await guest.evaluate("() => { window.m.rtcUrl = window.realUrl; }")
    sent = await pending
    assert sent["text"] == "queued while offline"
    snap = await until(guest, SNAPSHOT_JS, None, lambda s: len(s["chat"]) == 2)
    assert snap["state"] == "joined"
    texts = [t for _, t in snap["chat"]]
    assert sorted(texts) == ["queued while offline", "sent while you were away"]
    assert sorted(await guest.evaluate("() => window.chats")) == sorted(texts)
    agent_snap = await until(agent, SNAPSHOT_JS, None, lambda s: len(s["chat"]) == 2)
    assert [guest_pid, "joined"] in agent_snap["roster"]
    # the moderator removes the guest: the session ends with that reason
    await agent.evaluate("(pid) => window.m.remove(pid)", guest_pid)
    snap = await until(guest, SNAPSHOT_JS, None, lambda s: s["state"] == "left")
    assert snap["leftReason"] == "removed"
    code = await guest.evaluate("() => window.m.admitted().then(() => 'ok', (e) => e.code)")
    assert code == "ok"  # it had been admitted before
