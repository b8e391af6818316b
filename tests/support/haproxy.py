"""A real HAProxy (Debian's ``haproxy`` package) in front of test nodes.

One frontend is the cluster's public name: any request goes to any node that
passes its ``/readyz`` check (round robin), except ``/n/{node_id}/...``, which
goes to that node alone with the prefix cut off (its health is the one
checked for the public backend), so each node's own URL (``FRONTDESK_NODE_URL``)
is ``{public}/n/{node_id}`` on the same balancer. ``/metrics`` is not served to
the public. It is the configuration ``docs/deploy.md`` gives, on loopback
ports, with TLS terminated by HAProxy when a certificate is given.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import os
import shutil
import signal
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

__all__ = ["HAProxy", "haproxy_or_skip", "self_signed_pem"]


def haproxy_or_skip() -> str:
    """The ``haproxy`` executable; skip (or fail, in CI) when it is not installed."""
    exe = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/usr/local/sbin")
    if exe is None:
        message = "haproxy is not installed (apt-get install haproxy; .ci/run does it)"
        if os.environ.get("FRONTDESK_REQUIRE_SERVICES") == "1":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return exe


def self_signed_pem(path: Path, host: str = "127.0.0.1") -> Path:
    """A self-signed certificate for ``host`` (an IP address) and its key, in one
    PEM file as HAProxy's ``crt`` takes it; clients trust it as their CA file."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    path.write_bytes(
        cert.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


@dataclass(frozen=True)
class Backend:
    node_id: str
    port: int  # where the node listens (127.0.0.1)


class HAProxy:
    """``haproxy -f cfg -db`` as a child process, on ``port`` of 127.0.0.1."""

    def __init__(
        self,
        tmp: Path,
        port: int,
        nodes: Sequence[tuple[str, int]],
        *,
        pem: Path | None = None,
    ) -> None:
        self.exe = haproxy_or_skip()
        self.tmp = tmp
        self.port = port
        self.nodes = [Backend(node_id, p) for node_id, p in nodes]
        self.pem = pem
        self.cfg = tmp / "haproxy.cfg"
        self.log_path = tmp / "haproxy.log"
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def public_url(self) -> str:
        scheme = "https" if self.pem else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def node_url(self, node_id: str) -> str:
        """A node's own URL: its path on the balancer."""
        return f"{self.public_url}/n/{node_id}"

    def config(self) -> str:
        tls = f" ssl crt {self.pem}" if self.pem else ""
        lines = [
            "global",
            "    maxconn 4096",
            "",
            "defaults",
            "    mode http",
            "    log stderr format raw local0 info",
            "    option httplog",
            "    option forwardfor",
            "    timeout connect 2s",
            "    timeout client 60s",
            "    timeout server 60s",
            "    timeout http-request 10s",
            "    timeout tunnel 1h",
            "    timeout client-fin 10s",
            "    timeout server-fin 10s",
            "    retries 3",
            "    option redispatch 1",
            "    default-server inter 500ms fall 2 rise 2",
            "",
            "frontend public",
            f"    bind 127.0.0.1:{self.port}{tls}",
            "    http-request set-header X-Forwarded-Proto https if { ssl_fc }",
            "    http-request set-header X-Forwarded-Proto http if !{ ssl_fc }",
            "    http-request deny deny_status 404 if { path_end /metrics }",
        ]
        for n in self.nodes:
            lines.append(f"    use_backend {n.node_id} if {{ path_beg /n/{n.node_id}/ }}")
        lines += [
            "    default_backend nodes",
            "",
            "backend nodes",
            "    balance roundrobin",
            "    option httpchk GET /readyz",
            "    http-check expect status 200",
        ]
        for n in self.nodes:
            lines.append(f"    server {n.node_id} 127.0.0.1:{n.port} check")
        for n in self.nodes:
            lines += [
                "",
                f"backend {n.node_id}",
                f"    http-request replace-path ^/n/{n.node_id}(/.*)$ \\1",
                f"    server {n.node_id} 127.0.0.1:{n.port} track nodes/{n.node_id}",
            ]
        return "\n".join(lines) + "\n"

    async def start(self) -> None:
        self.cfg.write_text(self.config())
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child keeps it open
        self.proc = await asyncio.create_subprocess_exec(
            self.exe, "-f", str(self.cfg), "-db", stdout=log, stderr=log
        )
        log.close()
        try:
            await self.wait_all_up()
        except BaseException:
            await self.stop()
            raise

    async def wait_all_up(self, timeout: float = 15.0) -> None:
        """Until every node answers ``/readyz`` through its own path on HAProxy."""
        verify: ssl.SSLContext | bool = (
            ssl.create_default_context(cafile=str(self.pem)) if self.pem else True
        )
        async with httpx.AsyncClient(verify=verify) as http:
            async with asyncio.timeout(timeout):
                for n in self.nodes:
                    while True:
                        if self.proc is not None and self.proc.returncode is not None:
                            raise RuntimeError(f"haproxy exited: see {self.log_path}")
                        with contextlib.suppress(httpx.HTTPError):
                            r = await http.get(self.node_url(n.node_id) + "/readyz", timeout=1)
                            if r.status_code == 200 and r.json()["node_id"] == n.node_id:
                                break
                        await asyncio.sleep(0.05)

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGKILL)
            await self.proc.wait()
