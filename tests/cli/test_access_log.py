"""Join codes are credentials: ``frontdesk serve`` keeps them out of its access log."""

from __future__ import annotations

import logging
import os
import secrets
import signal
import subprocess
from pathlib import Path

import httpx

from frontdesk.server.accesslog import RedactCredentials, redact_path
from tests.cli.test_serve import FRONTDESK, _wait_ready
from tests.support.live_server import free_port


def test_served_join_code_and_token_are_redacted_in_the_access_log(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRONTDESK_")}
    env["FRONTDESK_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path}/fd.db"
    code = "jc" + secrets.token_urlsafe(12)
    token = "tk" + secrets.token_urlsafe(24)
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(FRONTDESK), "serve", "--port", str(port), "--access-log-level", "info"],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_ready(base, proc)
            r = httpx.get(f"{base}/j/{code}", params={"token": token, "x": "1"}, timeout=5)
            assert r.status_code == 200  # the join page (the code is checked by the SDK)
            assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
    text = log.read_text()
    assert '"GET /j/…?token=…&x=1 HTTP/1.1" 200' in text, text
    assert '"GET /healthz HTTP/1.1" 200' in text  # other lines are untouched
    assert code not in text and token not in text


def test_redact_path_shapes() -> None:
    assert redact_path("/j/abc") == "/j/…"
    assert redact_path("/j/abc/invite.ics?x=1") == "/j/…/invite.ics?x=1"
    assert redact_path("/v1/x?a=1&resume_token=s3cret&b=2") == "/v1/x?a=1&resume_token=…&b=2"
    assert redact_path("/v1/meetings?limit=5") == "/v1/meetings?limit=5"


def test_filter_rewrites_uvicorn_records_and_keeps_them() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "GET", "/j/secretcode", "1.1", 200),
        None,
    )
    assert RedactCredentials().filter(record) is True
    assert record.getMessage() == '127.0.0.1:5 - "GET /j/… HTTP/1.1" 200'
