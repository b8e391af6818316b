"""A private Janus for tests, inside the network namespace the test runs in.

Janus never gathers candidates on loopback, so the harness adds a veth pair to
the (loopback-only) namespace ``make test`` made (``scripts/in-netns``), gives
both ends private addresses, and binds Janus's APIs and ICE to them. Nothing
leaves the namespace. ``janus_in_netns()`` yields a running Janus and removes
the pair again, so the suites after it still see loopback alone.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.netns import loopback_only

__all__ = ["JANUS", "JanusInstance", "janus_in_netns", "require_janus"]

JANUS = shutil.which("janus") or "/usr/bin/janus"
VETH, PEER = "v0", "v1"
JANUS_ADDR, PEER_ADDR = "10.201.0.1", "10.201.0.2"
HTTP_PORT, ADMIN_PORT, WS_PORT = 8088, 7088, 8188
LIB = "/usr/lib/x86_64-linux-gnu/janus"


@dataclass(frozen=True)
class JanusInstance:
    url: str  # the HTTP API (…/janus)
    admin_url: str
    token_secret: str
    admin_key: str
    admin_secret: str
    config_dir: Path
    log_file: Path
    #: Addresses the clients in the namespace gather candidates on.
    client_addresses: tuple[str, ...] = (JANUS_ADDR, PEER_ADDR)


def require_janus() -> None:
    """Skip (fail under ``FRONTDESK_REQUIRE_SERVICES=1``) unless Janus can run here:
    the binary exists and the test is alone in a loopback-only namespace."""
    reason = ""
    if not os.path.exists(JANUS):
        reason = "Janus is not installed (Debian package `janus`)"
    elif not loopback_only():
        reason = (
            "SFU tests run in a loopback-only network namespace of their own "
            "(`make test`, or `scripts/in-netns .venv/bin/pytest -m netns tests/sfu`)"
        )
    if not reason:
        return
    if os.environ.get("FRONTDESK_REQUIRE_SERVICES") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


def write_config(folder: Path, *, token_secret: str, admin_key: str, admin_secret: str) -> Path:
    """Janus's configuration for the namespace: videoroom only, HTTP and
    WebSocket transports bound to the veth address, signed tokens."""
    folder.mkdir(parents=True, exist_ok=True)
    plugins = sorted(p.name for p in Path(LIB, "plugins").glob("*.so"))
    transports = sorted(p.name for p in Path(LIB, "transports").glob("*.so"))
    off_plugins = ",".join(p for p in plugins if p != "libjanus_videoroom.so")
    keep = ("libjanus_http.so", "libjanus_websockets.so")
    off_transports = ",".join(t for t in transports if t not in keep)
    (folder / "janus.jcfg").write_text(
        f"""general: {{
  configs_folder = "{folder}"
  plugins_folder = "{LIB}/plugins"
  transports_folder = "{LIB}/transports"
  events_folder = "{LIB}/events"
  loggers_folder = "{LIB}/loggers"
  log_to_stdout = false
  log_to_file = "{folder}/janus.log"
  debug_level = 4
  admin_secret = "{admin_secret}"
  token_auth = true
  token_auth_secret = "{token_secret}"
  session_timeout = 60
  protected_folders = ["/bin", "/boot", "/dev", "/etc", "/lib", "/proc", "/sbin", "/sys", "/usr"]
}}
certificates: {{
}}
media: {{
  rtp_port_range = "20000-20999"
}}
nat: {{
  nice_debug = false
  full_trickle = true
  ignore_mdns = true
  ice_enforce_list = "{VETH}"
}}
plugins: {{
  disable = "{off_plugins}"
}}
transports: {{
  disable = "{off_transports}"
}}
loggers: {{
  disable = "libjanus_jsonlog.so"
}}
events: {{
  broadcast = false
}}
"""
    )
    (folder / "janus.plugin.videoroom.jcfg").write_text(
        f'general: {{\n  admin_key = "{admin_key}"\n  string_ids = true\n}}\n'
    )
    (folder / "janus.transport.http.jcfg").write_text(
        f"""general: {{
  json = "plain"
  base_path = "/janus"
  http = true
  port = {HTTP_PORT}
  ip = "{JANUS_ADDR}"
  https = false
}}
admin: {{
  admin_base_path = "/admin"
  admin_http = true
  admin_port = {ADMIN_PORT}
  admin_ip = "{JANUS_ADDR}"
  admin_https = false
}}
cors: {{
}}
"""
    )
    (folder / "janus.transport.websockets.jcfg").write_text(
        f"""general: {{
  json = "plain"
  ws = true
  ws_port = {WS_PORT}
  ws_ip = "{JANUS_ADDR}"
  wss = false
}}
admin: {{
  admin_ws = false
}}
"""
    )
    return folder / "janus.jcfg"


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@contextlib.contextmanager
def veth_pair() -> Iterator[None]:
    _ip("link", "add", VETH, "type", "veth", "peer", "name", PEER)
    try:
        _ip("addr", "add", f"{JANUS_ADDR}/30", "dev", VETH)
        _ip("addr", "add", f"{PEER_ADDR}/30", "dev", PEER)
        _ip("link", "set", VETH, "up")
        _ip("link", "set", PEER, "up")
        yield
    finally:
        subprocess.run(["ip", "link", "del", VETH], check=False, capture_output=True)


def _wait_port(host: str, port: int, proc: subprocess.Popen[bytes], log_file: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log_file.read_text()[-2000:] if log_file.exists() else ""
            raise RuntimeError(f"janus exited with {proc.returncode}:\n{tail}")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
            return
        time.sleep(0.05)
    raise RuntimeError("janus did not open its HTTP API within 15 s")


@contextlib.contextmanager
def janus_in_netns(folder: Path) -> Iterator[JanusInstance]:
    """Start Janus on a veth pair in this namespace; stop it and remove the pair."""
    require_janus()
    token_secret = secrets.token_urlsafe(24)
    admin_key = secrets.token_urlsafe(24)
    admin_secret = secrets.token_urlsafe(24)
    cfg = write_config(
        folder, token_secret=token_secret, admin_key=admin_key, admin_secret=admin_secret
    )
    log_file = folder / "janus.log"
    with veth_pair():
        proc = subprocess.Popen(
            [JANUS, "-C", str(cfg), "-F", str(folder)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait_port(JANUS_ADDR, HTTP_PORT, proc, log_file)
            yield JanusInstance(
                url=f"http://{JANUS_ADDR}:{HTTP_PORT}/janus",
                admin_url=f"http://{JANUS_ADDR}:{ADMIN_PORT}/admin",
                token_secret=token_secret,
                admin_key=admin_key,
                admin_secret=admin_secret,
                config_dir=folder,
                log_file=log_file,
            )
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
