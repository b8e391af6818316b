"""``frontdesk serve --dev``: a node ready to try in a second, on loopback only.

On first start it creates a development application, an agent and a meeting,
and keeps their credentials in ``dev-credentials.json`` beside the SQLite file
(mode 0600; for PostgreSQL under ``./var/``), so every later start prints the
same working credentials instead of new ones: the client secret and password are
stored only hashed in the database and could not be shown again otherwise. What
the file names but the database no longer holds (another database, a secret
rotated or a password changed through the CLI, a meeting ended) is made again.

Development mode refuses any address but loopback: the printed credentials are
meant for the person at this machine.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from frontdesk.config import Settings
from frontdesk.domain.model import MeetingState
from frontdesk.errors import FrontdeskError, UserNotFound, ValidationFailed
from frontdesk.server.operations import Operations
from frontdesk.store import open_store

__all__ = ["DEV_AGENT", "DEV_APP", "DevKit", "check_loopback", "is_loopback", "kit_path", "prepare"]

DEV_APP = "Development app"
DEV_AGENT = ("dev-agent", "Dev Agent")
DEV_SUBJECT = "Development meeting"
KIT_FILE = "dev-credentials.json"


@dataclass(frozen=True)
class DevKit:
    """What development mode prints: working credentials and a meeting."""

    client_id: str
    client_secret: str
    username: str
    password: str
    meeting_id: str
    join_url: str


def is_loopback(host: str) -> bool:
    """Whether ``host`` names only this machine (127.0.0.0/8, ::1, localhost)."""
    if host.strip().lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_loopback(host: str) -> None:
    if not is_loopback(host):
        raise ValidationFailed(
            f"--dev serves on loopback only (127.0.0.1, ::1, localhost), not {host!r}: "
            "development credentials are printed in clear; drop --dev to serve other addresses"
        )


def kit_path(settings: Settings) -> Path:
    """Where the development credentials are kept: beside the SQLite file."""
    parsed = make_url(settings.database_url)
    if parsed.drivername.startswith("sqlite") and parsed.database:
        return Path(parsed.database).resolve().parent / KIT_FILE
    return Path("var").resolve() / KIT_FILE


def _load(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _save(path: Path, kit: DevKit) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(asdict(kit), out, indent=2)
        out.write("\n")


async def _app(ops: Operations, saved: dict[str, Any]) -> tuple[str, str]:
    client_id, secret = str(saved.get("client_id", "")), str(saved.get("client_secret", ""))
    if client_id and secret:
        with contextlib.suppress(FrontdeskError):
            await ops.apps.authenticate(client_id, secret)
            return client_id, secret
    created = await ops.apps.create(DEV_APP)
    return created.client_id, created.client_secret


async def _agent(ops: Operations, saved: dict[str, Any]) -> tuple[str, str]:
    username, display_name = DEV_AGENT
    password = str(saved.get("password", ""))
    try:
        user = await ops.accounts.get(username)
    except UserNotFound:
        password = secrets.token_urlsafe(12)
        await ops.accounts.create(username, display_name, password)
        return username, password
    if user.disabled:
        await ops.accounts.set_disabled(username, False)
    if not password or not await ops.credentials.hasher.verify(user.password_hash, password):
        password = secrets.token_urlsafe(12)
        await ops.accounts.set_password(username, password)
    return username, password


async def _meeting(ops: Operations, saved: dict[str, Any], organizer: str) -> tuple[str, str]:
    meeting_id = str(saved.get("meeting_id", ""))
    if meeting_id:
        with contextlib.suppress(FrontdeskError):
            m = await ops.meetings.get(meeting_id)
            if m.state is not MeetingState.ENDED and m.organizer == organizer:
                return m.id, ops.meetings.join_url(m)
    m = await ops.meetings.create(subject=DEV_SUBJECT, organizer=organizer)
    return m.id, ops.meetings.join_url(m)


async def prepare(settings: Settings) -> DevKit:
    """Make (or find again) the development application, agent and meeting in the
    database of ``settings`` (created and migrated if need be), and keep their
    credentials in :func:`kit_path`."""
    path = kit_path(settings)
    saved = _load(path)
    store = await open_store(settings.database_url)
    try:
        ops = Operations(settings, store)
        await ops.start()
        client_id, client_secret = await _app(ops, saved)
        username, password = await _agent(ops, saved)
        meeting_id, join_url = await _meeting(ops, saved, username)
    finally:
        await store.close()
    kit = DevKit(client_id, client_secret, username, password, meeting_id, join_url)
    if asdict(kit) != saved:
        _save(path, kit)
    return kit
