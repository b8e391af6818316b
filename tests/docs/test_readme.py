"""The README's five-minute tour, run as written against a real node.

Every ``sh`` block of the tour runs, in order, in one bash with ``set -euo
pipefail``; every ``python`` block is saved under the name its first line gives
(``# backend.py: ...``) so the shell blocks can run it. Only two things differ
from a newcomer's terminal: the node listens on a free port instead of 8080 (the
URLs are rewritten), and ``make run`` is ``frontdesk serve`` of this checkout
(``make`` itself is measured elsewhere). Meanwhile this test plays the advisor
the tour asks for: it signs in as alice, admits the visitor from the lobby and
answers her chat, so ``visitor.py`` ends.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

import frontdesk.client
from tests.support.live_server import free_port

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
BIN = Path(sys.executable).parent
RUN_TIMEOUT_S = 240.0
REPLY = "Welcome, Ann: how can I help?"

_BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.DOTALL | re.MULTILINE)


def tour_blocks() -> list[tuple[str, str]]:
    """``(language, code)`` of every fenced block of the tour, in order."""
    text = README.read_text(encoding="utf-8")
    start = text.index("## Five-minute tour")
    end = text.index("### Joining", start)
    return [(m.group(1), m.group(2)) for m in _BLOCK.finditer(text[start:end])]


def _script(blocks: list[tuple[str, str]], port: int, workdir: Path) -> str:
    shell = []
    for lang, code in blocks:
        code = code.replace("127.0.0.1:8080", f"127.0.0.1:{port}")
        if lang == "python":
            name = re.match(r"# (\w+\.py)", code)
            assert name, f"a tour Python block must start with '# NAME.py': {code[:60]!r}"
            (workdir / name.group(1)).write_text(code, encoding="utf-8")
        else:
            assert lang == "sh", lang
            shell.append(code)
    preamble = (
        "set -euo pipefail\n"
        f'make() {{ test "$1" = run || return 1; exec frontdesk serve --port {port}; }}\n'
        "trap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n"
    )
    return preamble + "\n".join(shell)


async def _play_alice(base: str, password: str, done: asyncio.Event) -> str:
    """Sign in as alice once she exists, admit the first visitor, answer her."""
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        while True:
            try:
                r = await http.post("/v1/session", json={"username": "alice", "password": password})
                if r.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.3)
        session = r.json()["token"]
        auth = {"Authorization": f"Bearer {session}"}
        while not (waiting := (await http.get("/v1/me/lobby", headers=auth)).json()["items"]):
            await asyncio.sleep(0.3)
        entry = waiting[0]
        assert entry["display_name"] == "Ann Visitor" and entry["vouched"], entry
    async with frontdesk.client.join_as_user(base, entry["meeting_id"], session) as alice:
        events = alice.events()
        await alice.admit(entry["participant_id"])
        async for event in events:
            if event.message and event.message.text == "Hello":
                await alice.chat.send(REPLY)
                break
        await done.wait()
    return str(entry["meeting_id"])


@pytest.mark.slow
async def test_the_readme_tour_runs_as_written(tmp_path: Path) -> None:
    blocks = tour_blocks()
    assert [lang for lang, _ in blocks].count("python") >= 2
    joined = "\n".join(code for _, code in blocks)
    assert "make run &" in joined and "apps create" in joined
    assert "CLIENT_ID=$(" in joined  # the curl's variables are set by the tour itself
    password = re.search(r"echo '([^']+)' \| frontdesk users create alice", joined)
    assert password, "the tour creates alice with a password on stdin"
    port = free_port()
    (tmp_path / "tour.sh").write_text(_script(blocks, port, tmp_path), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRONTDESK_")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.pop("COVERAGE_PROCESS_START", None)

    done = asyncio.Event()
    alice = asyncio.create_task(_play_alice(f"http://127.0.0.1:{port}", password.group(1), done))
    proc = await asyncio.create_subprocess_exec(
        "bash", str(tmp_path / "tour.sh"),
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), RUN_TIMEOUT_S)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        done.set()
    text = out.decode(errors="replace")
    assert proc.returncode == 0, text
    meeting_id = await asyncio.wait_for(alice, 30)
    # The curl block printed the guest token grant; visitor.py saw alice's answer.
    assert re.search(r'"discovery_uri":\s*"http://127\.0\.0\.1:\d+/v1/discovery/m_', text), text
    assert "In the lobby" in text and REPLY in text, text
    assert meeting_id.startswith("m_")
    assert (tmp_path / "var" / "frontdesk.db").is_file()  # `make run` made ./var/
