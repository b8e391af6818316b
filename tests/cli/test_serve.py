"""``frontdesk serve`` as a real process: the command ``make run`` starts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from frontdesk.config import Settings
from frontdesk.errors import ValidationFailed
from tests.support.live_server import free_port

FRONTDESK = Path(sys.executable).with_name("frontdesk")
START_TIMEOUT_S = 20.0


def _wait_ready(base: str, proc: subprocess.Popen[bytes]) -> dict[str, object]:
    deadline = time.monotonic() + START_TIMEOUT_S
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"frontdesk serve exited early with {proc.returncode}")
        try:
            r = httpx.get(f"{base}/readyz", timeout=2)
            if r.status_code == 200:
                return dict(r.json())
        except httpx.TransportError as exc:
            last = exc
        time.sleep(0.1)
    raise AssertionError(f"frontdesk serve not ready after {START_TIMEOUT_S} s ({last!r})")


def test_serve_starts_answers_health_and_stops(tmp_path: Path) -> None:
    port = free_port()
    db = tmp_path / "var" / "serve.db"
    db.parent.mkdir()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("FRONTDESK_") and k != "COVERAGE_PROCESS_START"
    }
    env["FRONTDESK_DATABASE_URL"] = f"sqlite+aiosqlite:///{db}"
    env["FRONTDESK_NODE_ID"] = "node-cli-test"
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(FRONTDESK), "serve", "--port", str(port), "--log-level", "info"],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            ready = _wait_ready(base, proc)
            assert ready == {"status": "ready", "node_id": "node-cli-test", "bus": "ok"}
            health = httpx.get(f"{base}/healthz", timeout=5)
            assert health.status_code == 200 and health.json() == {"status": "ok"}
            jwks = httpx.get(f"{base}/.well-known/jwks.json", timeout=5).json()
            assert [k["alg"] for k in jwks["keys"]] == ["EdDSA"]
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                code = proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
                raise
    banner = log.read_text()
    # uvicorn shuts down gracefully, then re-raises the signal it caught.
    assert code in (0, -signal.SIGTERM), banner
    assert "Application shutdown complete" in banner
    assert f"http://127.0.0.1:{port}/docs" in banner
    assert f"http://127.0.0.1:{port}/console" in banner and "Next: " in banner
    assert '"GET /healthz' not in banner  # the access log is off unless asked for
    assert str(db) in banner
    assert db.exists()  # migrated at start-up, where the URL said


def test_serve_with_no_configuration_uses_sqlite_under_var(tmp_path: Path) -> None:
    """The embedded default ``make run`` gives: no FRONTDESK_* at all, a SQLite file
    under ./var/ of the working directory, in-process bus."""
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("FRONTDESK_") and k != "COVERAGE_PROCESS_START"
    }
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(FRONTDESK), "serve", "--port", str(port)],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_ready(f"http://127.0.0.1:{port}", proc)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=10)
    banner = log.read_text()
    assert (tmp_path / "var" / "frontdesk.db").exists(), banner
    assert "bus           in-process" in banner
    media = [line for line in banner.splitlines() if line.strip().startswith("media")]
    assert media == [
        "  media         mesh only, at most 4 people with media (FRONTDESK_JANUS_URL unset)"
    ]


def test_serve_with_redis_away_starts_degraded(tmp_path: Path) -> None:
    """A Redis URL nobody answers on: the node starts all the same and is ready,
    its bus degraded; the banner names the Redis without its password."""
    port, nobody = free_port(), free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("FRONTDESK_") and k != "COVERAGE_PROCESS_START"
    }
    env["FRONTDESK_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path}/fd.db"
    env["FRONTDESK_REDIS_URL"] = f"redis://:s3cret@127.0.0.1:{nobody}/0"
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(FRONTDESK), "serve", "--port", str(port), "--redis-prefix", "fdcli:"],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            ready = _wait_ready(f"http://127.0.0.1:{port}", proc)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=10)
    banner = log.read_text()
    assert ready["bus"] == "degraded (polling)", banner
    assert f"bus           redis redis://:***@127.0.0.1:{nobody}/0 (prefix 'fdcli:')" in banner
    assert "s3cret" not in banner


def test_banner_hides_a_database_password() -> None:
    from frontdesk.cli.serve import _without_password

    shown = _without_password("postgresql+asyncpg://fd:s3cret@127.0.0.1/fd")
    assert "s3cret" not in shown and "***" in shown


def _negotiated_extensions(tmp_path: Path, env_extra: dict[str, str]) -> str | None:
    """Start ``frontdesk serve`` and open the RTC WebSocket offering
    permessage-deflate, as browsers and the SDKs do: the extensions it accepted."""
    import asyncio

    from websockets.asyncio.client import connect

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRONTDESK_")}
    env["FRONTDESK_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'serve.db'}"
    env |= env_extra
    with (tmp_path / "serve.log").open("ab") as out:
        proc = subprocess.Popen(
            [str(FRONTDESK), "serve", "--port", str(port), "--log-level", "warning"],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_ready(f"http://127.0.0.1:{port}", proc)

            async def extensions() -> str | None:
                async with connect(f"ws://127.0.0.1:{port}/v1/rtc", compression="deflate") as ws:
                    assert ws.response is not None
                    return ws.response.headers.get("Sec-WebSocket-Extensions")

            return asyncio.run(extensions())
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=10)


def test_permessage_deflate_only_when_configured(tmp_path: Path) -> None:
    """Off by default (a zlib state per connection for small chat frames);
    ``FRONTDESK_WS_DEFLATE=1`` turns it on."""
    assert _negotiated_extensions(tmp_path, {}) is None
    on = _negotiated_extensions(tmp_path, {"FRONTDESK_WS_DEFLATE": "1"})
    assert on is not None and "permessage-deflate" in on


def test_helpdesk_settings_from_the_environment_and_flags(tmp_path: Path) -> None:
    """``FRONTDESK_HELPDESK_OFFER_TIMEOUT`` (as the sample bank sets it) and
    ``--helpdesk-missed-offers`` reach the node; a bad value stops it at once."""
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("FRONTDESK_") and k != "COVERAGE_PROCESS_START"
    }
    env["FRONTDESK_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'serve.db'}"
    env["FRONTDESK_HELPDESK_OFFER_TIMEOUT"] = "4"
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(FRONTDESK), "serve", "--port", str(port), "--helpdesk-missed-offers", "3"],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_ready(f"http://127.0.0.1:{port}", proc)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=10)
    assert "offers answered within 4 s; away after 3 missed" in log.read_text()

    for extra, args in (
        ({"FRONTDESK_HELPDESK_OFFER_TIMEOUT": "0"}, []),
        ({}, ["--helpdesk-missed-offers", "0"]),
    ):
        done = subprocess.run(
            [str(FRONTDESK), "serve", "--port", str(free_port()), *args],
            cwd=tmp_path,
            env=env | extra,
            capture_output=True,
            timeout=60,
        )
        assert done.returncode == 2, done
        assert b"validation_failed" in done.stderr


def test_janus_url_without_its_secrets_is_refused() -> None:
    with pytest.raises(ValidationFailed, match="FRONTDESK_JANUS_TOKEN_SECRET"):
        Settings.from_env({"FRONTDESK_JANUS_URL": "http://10.0.0.5:8088/janus"})
    s = Settings.from_env(
        {
            "FRONTDESK_JANUS_URL": "http://10.0.0.5:8088/janus",
            "FRONTDESK_JANUS_TOKEN_SECRET": "t",
            "FRONTDESK_JANUS_ADMIN_KEY": "k",
        }
    )
    assert (s.janus_url, s.janus_token_secret, s.janus_admin_key) == (
        "http://10.0.0.5:8088/janus",
        "t",
        "k",
    )
