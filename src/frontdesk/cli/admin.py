"""Admin commands acting on the database named by ``FRONTDESK_DATABASE_URL``:
``apps``, ``users``, ``meetings`` and ``keys``."""

from __future__ import annotations

import sys
from dataclasses import asdict
from typing import Any

import typer

from frontdesk.cli._common import JsonOpt, emit, run
from frontdesk.domain.model import (
    AccessPolicy,
    LobbyBypass,
    Meeting,
    MeetingState,
    Role,
    UserRole,
)
from frontdesk.server.operations import Operations

__all__ = ["apps", "keys", "meetings", "users"]

apps = typer.Typer(help="Trusted applications (business back ends).", no_args_is_help=True)
users = typer.Typer(help="Organizers and agents.", no_args_is_help=True)
meetings = typer.Typer(help="Meetings and their join material.", no_args_is_help=True)
keys = typer.Typer(help="Token signing keys.", no_args_is_help=True)


# --- apps ------------------------------------------------------------------------------
@apps.command("create")
def apps_create(name: str, as_json: bool = JsonOpt) -> None:
    """Register an application; prints its client secret once (stored only hashed)."""

    async def go(ops: Operations) -> dict[str, Any]:
        c = await ops.apps.create(name)
        return {"client_id": c.client_id, "client_secret": c.client_secret, "name": c.name}

    out = run(go, as_json=as_json)
    emit(out, as_json=as_json, title="Application created: keep the secret, it is not shown again")


def _app_row(a: Any) -> dict[str, Any]:
    return {
        "client_id": a.client_id,
        "name": a.name,
        "created_at": a.created_at,
        "revoked_at": a.revoked_at,
        "active": a.active,
    }


@apps.command("list")
def apps_list(as_json: bool = JsonOpt) -> None:
    async def go(ops: Operations) -> list[dict[str, Any]]:
        return [_app_row(a) for a in await ops.apps.all()]

    emit(
        run(go, as_json=as_json),
        as_json=as_json,
        columns=["client_id", "name", "created_at", "revoked_at"],
    )


@apps.command("rotate-secret")
def apps_rotate_secret(
    client_id: str,
    overlap_s: int = typer.Option(
        24 * 3600,
        "--overlap-s",
        min=0,
        help="How long the old secret keeps working (seconds; 0: at once).",
    ),
    as_json: bool = JsonOpt,
) -> None:
    """A routine secret change: prints a new secret once; the old one keeps
    working for the overlap, and no call is ended. After a compromise, revoke."""

    async def go(ops: Operations) -> dict[str, Any]:
        c = await ops.apps.rotate_secret(client_id, overlap_s=overlap_s)
        return {"client_id": c.client_id, "client_secret": c.client_secret, "name": c.name}

    out = run(go, as_json=as_json)
    emit(out, as_json=as_json, title="New secret: keep it, it is not shown again")


@apps.command("revoke")
def apps_revoke(client_id: str, as_json: bool = JsonOpt) -> None:
    """Revoke an application (the answer to a compromise): its secrets and access
    tokens stop working, and its guests' live sessions end within seconds."""

    async def go(ops: Operations) -> dict[str, Any]:
        return _app_row(await ops.apps.revoke(client_id))

    emit(run(go, as_json=as_json), as_json=as_json)


# --- users ------------------------------------------------------------------------------
@users.command("create")
def users_create(
    username: str,
    display_name: str = typer.Option(..., "--display-name", help="Name shown to visitors."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from stdin."
    ),
    role: UserRole = typer.Option(
        UserRole.AGENT, "--role", help="agent, or supervisor (may monitor, whisper, barge in)."
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Create an organizer/agent (or supervisor); the password is stored hashed (argon2)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)

    async def go(ops: Operations) -> dict[str, Any]:
        u = await ops.accounts.create(username, display_name, password, role)
        return {
            "username": u.username,
            "display_name": u.display_name,
            "role": u.role.value,
            "created_at": u.created_at,
        }

    emit(run(go, as_json=as_json), as_json=as_json)


@users.command("rename")
def users_rename(
    username: str,
    display_name: str = typer.Option(..., "--display-name", help="Name shown to visitors."),
    as_json: bool = JsonOpt,
) -> None:
    """Change the name a user is shown with (e.g. one a newer version refuses)."""

    async def go(ops: Operations) -> dict[str, Any]:
        u = await ops.accounts.rename(username, display_name)
        return {"username": u.username, "display_name": u.display_name}

    emit(run(go, as_json=as_json), as_json=as_json)


@users.command("set-role")
def users_set_role(
    username: str,
    role: UserRole = typer.Argument(..., help="agent or supervisor."),
    as_json: bool = JsonOpt,
) -> None:
    """Make a user an agent or a supervisor (effective from its next request)."""

    async def go(ops: Operations) -> dict[str, Any]:
        u = await ops.accounts.set_role(username, role)
        return {"username": u.username, "display_name": u.display_name, "role": u.role.value}

    emit(run(go, as_json=as_json), as_json=as_json)


@users.command("list")
def users_list(as_json: bool = JsonOpt) -> None:
    async def go(ops: Operations) -> list[dict[str, Any]]:
        return [
            {
                "username": u.username,
                "display_name": u.display_name,
                "role": u.role.value,
                "created_at": u.created_at,
                "disabled": u.disabled,
            }
            for u in await ops.accounts.all()
        ]

    emit(run(go, as_json=as_json), as_json=as_json)


# --- meetings ---------------------------------------------------------------------------
def meeting_row(ops: Operations, m: Meeting) -> dict[str, Any]:
    d = asdict(m)
    d.pop("join_code")
    d["join_url"] = ops.meetings.join_url(m)
    return d


@meetings.command("create")
def meetings_create(
    organizer: str = typer.Option(..., "--organizer", help="Username of the organizer."),
    subject: str = typer.Option("", "--subject"),
    policy: AccessPolicy = typer.Option(
        AccessPolicy.LOBBY, "--policy", help="What a URL-only guest gets."
    ),
    lobby_bypass: LobbyBypass = typer.Option(LobbyBypass.NONE, "--lobby-bypass"),
    as_json: bool = JsonOpt,
) -> None:
    """Create an ad hoc meeting and print its join URL."""

    async def go(ops: Operations) -> dict[str, Any]:
        m = await ops.meetings.create(
            subject=subject, organizer=organizer, access_policy=policy, lobby_bypass=lobby_bypass
        )
        return meeting_row(ops, m)

    emit(
        run(go, as_json=as_json),
        as_json=as_json,
        columns=["id", "subject", "organizer", "join_url"],
    )


@meetings.command("list")
def meetings_list(
    organizer: str | None = typer.Option(None, "--organizer"),
    state: MeetingState | None = typer.Option(None, "--state"),
    as_json: bool = JsonOpt,
) -> None:
    async def go(ops: Operations) -> list[dict[str, Any]]:
        return [
            meeting_row(ops, m) for m in await ops.meetings.find(organizer=organizer, state=state)
        ]

    emit(
        run(go, as_json=as_json),
        as_json=as_json,
        columns=["id", "subject", "organizer", "state", "join_url"],
    )


@meetings.command("token")
def meetings_token(
    meeting_id: str,
    name: str = typer.Option(..., "--name", help="Display name the token carries."),
    role: Role = typer.Option(Role.GUEST, "--role"),
    ttl: int | None = typer.Option(None, "--ttl", help="Lifetime in seconds."),
    single_use: bool = typer.Option(False, "--single-use"),
    as_json: bool = JsonOpt,
) -> None:
    """Mint a guest token: prints {token, discovery_uri, expires_at}."""

    async def go(ops: Operations) -> dict[str, Any]:
        g = await ops.guest_tokens.mint(
            meeting_id, display_name=name, role=role, ttl_s=ttl, single_use=single_use
        )
        return {
            "token": g.token,
            "discovery_uri": g.discovery_uri,
            "expires_at": g.expires_at,
            "meeting_id": g.meeting_id,
        }

    emit(run(go, as_json=as_json), as_json=as_json)


@meetings.command("end")
def meetings_end(meeting_id: str, as_json: bool = JsonOpt) -> None:
    async def go(ops: Operations) -> dict[str, Any]:
        return meeting_row(ops, await ops.meetings.end(meeting_id))

    emit(run(go, as_json=as_json), as_json=as_json, columns=["id", "state", "ended_at"])


# --- keys -------------------------------------------------------------------------------
@keys.command("rotate")
def keys_rotate(as_json: bool = JsonOpt) -> None:
    """Make a new signing key active; tokens signed by older keys keep working until the
    overlap (FRONTDESK_KEY_ROTATION_OVERLAP_S) ends."""

    async def go(ops: Operations) -> dict[str, Any]:
        return {"kid": await ops.keys.rotate()}

    emit(run(go, as_json=as_json), as_json=as_json)


@keys.command("list")
def keys_list(as_json: bool = JsonOpt) -> None:
    async def go(ops: Operations) -> list[dict[str, Any]]:
        return [
            {
                "kid": k.kid,
                "created_at": k.created_at,
                "retired_at": k.retired_at,
                "expires_at": k.expires_at,
            }
            for k in await ops.keys.records()
        ]

    emit(run(go, as_json=as_json), as_json=as_json)
