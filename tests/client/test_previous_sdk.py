"""An App SDK of the previous version still joins, chats and resumes against
this server: the typed contract changed the code, not the wire.

The previous release's source is taken from git history (the commit before the
typed contract) and run in a subprocess with nothing of this tree on its path.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tarfile
from io import BytesIO
from pathlib import Path

import pytest

from frontdesk.domain.model import AccessPolicy
from tests.support.live_server import LiveServer
from tests.support.rtc import RawClient

PREVIOUS = "02761b6"  # main before the typed contract (typed events, one codec)
REPO = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import asyncio, json, sys
import frontdesk, frontdesk.client as fd
assert frontdesk.__file__.startswith(sys.argv[3]), frontdesk.__file__

async def main():
    async with fd.join_with_token(sys.argv[1], sys.argv[2]) as meeting:
        await meeting.admitted(timeout=10)
        sent = await meeting.chat.send("hello from the previous SDK")
        async def agent_says():
            async for event in meeting.events():
                if event.name == "chat_message" and event.data["text"] == "welcome back":
                    return event.data["text"]
        heard = await asyncio.wait_for(agent_says(), 10)
        roster = sorted(p.display_name for p in meeting.roster.values())
        print(json.dumps({"sent": sent.text, "heard": heard, "roster": roster,
                          "subject": meeting.info.get("subject")}))

asyncio.run(main())
"""


def _previous_source(dest: Path) -> Path:
    try:
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", "--format=tar", PREVIOUS, "src/frontdesk"],
            capture_output=True,
            check=True,
            timeout=60,
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"the previous release ({PREVIOUS}) is not in this clone's history: {exc}")
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data")
    return dest / "src"


async def test_the_previous_app_sdk_joins_chats_and_hears(
    server: LiveServer, tmp_path: Path
) -> None:
    old_src = _previous_source(tmp_path)
    ops = server.ops
    m = await ops.meetings.create(
        subject="Mortgage", organizer="alice", access_policy=AccessPolicy.DIRECT
    )
    token, _, _ = await ops.accounts.login("alice", "correct horse battery")
    rtc = server.base_url.replace("http://", "ws://") + "/v1/rtc"
    alice = await RawClient.connect(rtc, {"kind": "session", "token": token, "meeting_id": m.id})
    grant = await ops.guest_tokens.mint(m.id, display_name="Ann Visitor")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        SCRIPT,
        grant.discovery_uri,
        grant.token,
        str(old_src),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={"PYTHONPATH": str(old_src), "PATH": "/usr/bin:/bin"},
        cwd=tmp_path,
    )
    said = await alice.wait_for(
        lambda f: f["type"] == "event" and f["name"] == "chat_message", timeout=20
    )
    assert said["data"]["text"] == "hello from the previous SDK"
    await alice.request({"type": "chat", "id": "a1", "text": "welcome back"})
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()[-2000:]
    result = json.loads(out.decode().strip().splitlines()[-1])
    assert result == {
        "sent": "hello from the previous SDK",
        "heard": "welcome back",
        "roster": ["Alice Advisor", "Ann Visitor"],
        "subject": "Mortgage",
    }
    await alice.close()
