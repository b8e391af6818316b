"""``frontdesk serve --dev``: loopback only; on first start a development
application, agent and meeting whose credentials and join link it prints, the
same ones on every later start."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import stat
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from frontdesk.cli.dev import is_loopback
from tests.cli.test_serve import FRONTDESK
from tests.support.live_server import free_port

START_TIMEOUT_S = 120.0


def _env() -> dict[str, str]:
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("FRONTDESK_") and k != "COVERAGE_PROCESS_START"
    }


def _wait_ready(base: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    """Until the node answers ``/readyz`` (the first start also hashes two
    secrets and migrates: slow on a busy machine, so a generous deadline)."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise AssertionError(f"not ready after {START_TIMEOUT_S} s:\n{log.read_text()}")


def _serve_dev(cwd: Path, port: int) -> str:
    """Start ``frontdesk serve --dev``, check what it printed works, stop it;
    returns the banner."""
    log = cwd / f"serve-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(FRONTDESK), "serve", "--dev", "--port", str(port)],
            cwd=cwd,
            env=_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_ready(base, proc, log)
            banner = log.read_text()
            client_id, secret = re.search(r"CLIENT_ID=(\S+) CLIENT_SECRET=(\S+)", banner).groups()  # type: ignore[union-attr]
            user, password = re.search(r"user (\S+)  password (\S+)", banner).groups()  # type: ignore[union-attr]
            join_link = re.search(r"join link +(\S+)", banner).group(1)  # type: ignore[union-attr]
            assert f"{base}/console" in banner and f"{base}/docs" in banner
            with httpx.Client(base_url=base, timeout=10) as http:
                token = http.post(
                    "/v1/oauth/token",
                    data={"grant_type": "client_credentials"},
                    auth=(client_id, secret),
                )
                assert token.status_code == 200, token.text
                session = http.post("/v1/session", json={"username": user, "password": password})
                assert session.status_code == 200, session.text
                mine = http.get(
                    "/v1/me/meetings",
                    headers={"Authorization": f"Bearer {session.json()['token']}"},
                )
                assert join_link in [m["join_url"] for m in mine.json()["items"]], mine.text
                assert http.get(join_link).status_code == 200  # the guest page
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
    return banner


def _credentials(banner: str) -> list[str]:
    return [
        line
        for line in banner.splitlines()
        if line.lstrip().startswith(("application", "agent", "join link"))
    ]


@pytest.mark.slow
def test_dev_mode_prints_working_credentials_and_keeps_them(tmp_path: Path) -> None:
    first = _serve_dev(tmp_path, free_port())
    kept = tmp_path / "var" / "dev-credentials.json"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    again = _serve_dev(tmp_path, free_port())
    # The same application, agent and meeting (the port differs, so compare ids).
    ids = re.compile(r"(CLIENT_ID=\S+ CLIENT_SECRET=\S+|password \S+|/j/\S+)")
    assert ids.findall("\n".join(_credentials(first))) == ids.findall(
        "\n".join(_credentials(again))
    )
    assert len(ids.findall(first)) >= 3


def test_dev_mode_refuses_other_addresses(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(FRONTDESK), "serve", "--dev", "--host", "0.0.0.0", "--port", str(free_port())],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "loopback only" in result.stderr and "'0.0.0.0'" in result.stderr
    assert not (tmp_path / "var").exists()  # nothing was created


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.2", False),
        ("example.com", False),
        ("localhost.example.com", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
