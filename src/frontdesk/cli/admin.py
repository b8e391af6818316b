"""Admin commands acting on the database named by ``FRONTDESK_DATABASE_URL``:
``apps``, ``users``, ``meetings`` and ``keys``."""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import typer

from frontdesk.cli._common import JsonOpt, emit, run
from frontdesk.domain.branding import MAX_LOGO_BYTES, Branding, logo_of
from frontdesk.domain.model import (
    UNSET,
    AccessPolicy,
    LobbyBypass,
    Meeting,
    MeetingState,
    Role,
    Unset,
    User,
    UserRole,
)
from frontdesk.errors import ValidationFailed
from frontdesk.server.operations import Operations

__all__ = ["apps", "keys", "meetings", "users"]

apps = typer.Typer(help="Trusted applications (business back ends).", no_args_is_help=True)
users = typer.Typer(help="Organizers and agents.", no_args_is_help=True)
meetings = typer.Typer(help="Meetings and their join material.", no_args_is_help=True)
keys = typer.Typer(help="Token signing keys.", no_args_is_help=True)


# --- apps ------------------------------------------------------------------------------
ClientIdArg = typer.Argument(..., help="The application's client_id.")
MeetingIdArg = typer.Argument(..., help="The meeting's id (m_...).")


DisplayNameOpt = typer.Option(
    None,
    "--display-name",
    help="The business's name as visitors see it on the guest page ('' clears it).",
)
LogoOpt = typer.Option(
    None,
    "--logo",
    help="Logo image file shown to visitors: PNG, JPEG or WebP, at most 256 KiB (no SVG).",
    dir_okay=False,
)
AccentOpt = typer.Option(
    None,
    "--accent",
    help="Accent colour as #rrggbb, e.g. '#0a5c8a' ('' clears it); text on it is "
    "black or white, whichever reads better.",
)


def _read_logo(path: Path) -> bytes:
    """The logo file's bytes, checked (type by its bytes, size) before anything is stored."""
    try:
        with path.open("rb") as f:
            data = f.read(MAX_LOGO_BYTES + 1)
    except OSError as exc:
        raise ValidationFailed(f"cannot read the logo file {str(path)!r}: {exc.strerror}") from None
    return logo_of(data).data


def _brand_row(ops: Operations, client_id: str, b: Branding) -> dict[str, Any]:
    return {
        "client_id": client_id,
        "display_name": b.display_name,
        "accent": b.accent,
        "accent_text": b.accent_text,
        "logo_url": ops.brands.logo_url(b),
        "updated_at": b.updated_at,
    }


def _blank_clears(value: str | None) -> str | Unset | None:
    """An option not given keeps the value (UNSET); ``''`` clears it (None)."""
    if value is None:
        return UNSET
    return value if value.strip() else None


@apps.command("create")
def apps_create(
    name: str = typer.Argument(..., help="The application's name (the business)."),
    display_name: str | None = DisplayNameOpt,
    logo: Path | None = LogoOpt,
    accent: str | None = AccentOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Register an application; prints its client secret once (stored only hashed).
    With --display-name, --logo or --accent, also its brand (see `apps brand`)."""

    async def go(ops: Operations) -> dict[str, Any]:
        # Everything checked before the application exists: a bad logo creates nothing.
        name_ = _blank_clears(display_name)
        accent_ = _blank_clears(accent)
        Branding(
            display_name=name_ if isinstance(name_, str) else None,
            accent=accent_ if isinstance(accent_, str) else None,
        )
        image = _read_logo(logo) if logo is not None else None
        c = await ops.apps.create(name)
        out: dict[str, Any] = {
            "client_id": c.client_id,
            "client_secret": c.client_secret,
            "name": c.name,
        }
        if display_name is not None or accent is not None or image is not None:
            b = await ops.brands.update(c.client_id, display_name=name_, accent=accent_)
            if image is not None:
                b = await ops.brands.set_logo(c.client_id, image)
            row = _brand_row(ops, c.client_id, b)
            out.update({k: row[k] for k in ("display_name", "accent", "logo_url")})
        return out

    out = run(go, as_json=as_json)
    emit(out, as_json=as_json, title="Application created: keep the secret, it is not shown again")


@apps.command("brand")
def apps_brand(
    client_id: str = ClientIdArg,
    display_name: str | None = DisplayNameOpt,
    logo: Path | None = LogoOpt,
    no_logo: bool = typer.Option(False, "--no-logo", help="Remove the logo."),
    accent: str | None = AccentOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Show or change the brand visitors see in the application's meetings: the
    guest page shows its name, logo and accent colour (what is not set falls
    back to the node's default). Without options, prints the brand as it is."""
    if logo is not None and no_logo:
        raise typer.BadParameter("give --logo FILE or --no-logo, not both")

    async def go(ops: Operations) -> dict[str, Any]:
        image = _read_logo(logo) if logo is not None else None
        b = await ops.brands.of_app(client_id)
        if display_name is not None or accent is not None:
            b = await ops.brands.update(
                client_id, display_name=_blank_clears(display_name), accent=_blank_clears(accent)
            )
        if image is not None or no_logo:
            b = await ops.brands.set_logo(client_id, image)
        return _brand_row(ops, client_id, b)

    emit(run(go, as_json=as_json), as_json=as_json)


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
    """List applications (never their secrets)."""

    async def go(ops: Operations) -> list[dict[str, Any]]:
        return [_app_row(a) for a in await ops.apps.all()]

    emit(
        run(go, as_json=as_json),
        as_json=as_json,
        columns=["client_id", "name", "created_at", "revoked_at"],
    )


@apps.command("rotate-secret")
def apps_rotate_secret(
    client_id: str = ClientIdArg,
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
def apps_revoke(client_id: str = ClientIdArg, as_json: bool = JsonOpt) -> None:
    """Revoke an application (the answer to a compromise): its secrets and access
    tokens stop working, and its guests' live sessions end within seconds."""

    async def go(ops: Operations) -> dict[str, Any]:
        return _app_row(await ops.apps.revoke(client_id))

    emit(run(go, as_json=as_json), as_json=as_json)


# --- users ------------------------------------------------------------------------------
UsernameArg = typer.Argument(..., help="The user's sign-in name.")


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@users.command("create")
def users_create(
    username: str = UsernameArg,
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
    password = _read_password(password_stdin)

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
    username: str = UsernameArg,
    display_name: str = typer.Option(..., "--display-name", help="Name shown to visitors."),
    as_json: bool = JsonOpt,
) -> None:
    """Change the name a user is shown with (e.g. one a newer version refuses)."""

    async def go(ops: Operations) -> dict[str, Any]:
        u = await ops.accounts.rename(username, display_name)
        return {"username": u.username, "display_name": u.display_name}

    emit(run(go, as_json=as_json), as_json=as_json)


def _user_row(u: User) -> dict[str, Any]:
    return {
        "username": u.username,
        "display_name": u.display_name,
        "role": u.role.value,
        "state": "disabled" if u.disabled else "active",
        "created_at": u.created_at,
        "disabled": u.disabled,
    }


@users.command("set-role")
def users_set_role(
    username: str = UsernameArg,
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
    """List users with their state (active or disabled)."""

    async def go(ops: Operations) -> list[dict[str, Any]]:
        return [_user_row(u) for u in await ops.accounts.all()]

    emit(
        run(go, as_json=as_json),
        as_json=as_json,
        columns=["username", "display_name", "role", "state", "created_at"],
    )


@users.command("disable")
def users_disable(username: str = UsernameArg, as_json: bool = JsonOpt) -> None:
    """Stop a user from signing in; the sessions it holds stop working."""

    async def go(ops: Operations) -> dict[str, Any]:
        return _user_row(await ops.accounts.set_disabled(username, True))

    emit(run(go, as_json=as_json), as_json=as_json, columns=["username", "state"])


@users.command("enable")
def users_enable(username: str = UsernameArg, as_json: bool = JsonOpt) -> None:
    """Let a disabled user sign in again."""

    async def go(ops: Operations) -> dict[str, Any]:
        return _user_row(await ops.accounts.set_disabled(username, False))

    emit(run(go, as_json=as_json), as_json=as_json, columns=["username", "state"])


@users.command("delete")
def users_delete(
    username: str = UsernameArg,
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    as_json: bool = JsonOpt,
) -> None:
    """Delete a user: its account goes, its sessions stop working, and the meetings
    it organizes that have not ended are ended (their join links stop working)."""
    if not yes and not as_json:
        typer.confirm(f"Delete user {username!r} and end its open meetings?", abort=True)

    async def go(ops: Operations) -> dict[str, Any]:
        await ops.accounts.get(username)  # user_not_found before any meeting is touched
        ended: list[str] = []
        for state in (MeetingState.SCHEDULED, MeetingState.ACTIVE):
            while batch := [
                m
                for m in await ops.meetings.find(organizer=username, state=state)
                if m.id not in ended
            ]:
                for m in batch:
                    ended.append((await ops.meetings.end(m.id)).id)
        user = await ops.accounts.delete(username)
        return {"username": user.username, "deleted": True, "meetings_ended": ended}

    emit(run(go, as_json=as_json), as_json=as_json)


@users.command("set-password")
def users_set_password(
    username: str = UsernameArg,
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the new password from stdin (else: prompt)."
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Give a user a new password (at least 8 characters; stored hashed)."""
    password = _read_password(password_stdin)

    async def go(ops: Operations) -> dict[str, Any]:
        u = await ops.accounts.set_password(username, password)
        return {"username": u.username, "password_changed": True}

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
    subject: str = typer.Option(
        "",
        "--subject",
        help="What the meeting is about, as its guests read it "
        "(default: 'Meeting with' and the organizer's name).",
    ),
    policy: AccessPolicy = typer.Option(
        AccessPolicy.LOBBY, "--policy", help="What a URL-only guest gets."
    ),
    lobby_bypass: LobbyBypass = typer.Option(
        LobbyBypass.NONE,
        "--lobby-bypass",
        help="Who skips the lobby (token_holders: vouched guests).",
    ),
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
    organizer: str | None = typer.Option(None, "--organizer", help="Only this organizer's."),
    state: MeetingState | None = typer.Option(None, "--state", help="Only meetings in this state."),
    as_json: bool = JsonOpt,
) -> None:
    """List meetings, newest first, with their join URLs."""

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
    meeting_id: str = MeetingIdArg,
    name: str = typer.Option(..., "--name", help="Display name the token carries."),
    role: Role = typer.Option(Role.GUEST, "--role", help="Role the token grants."),
    ttl: int | None = typer.Option(None, "--ttl", help="Lifetime in seconds."),
    single_use: bool = typer.Option(False, "--single-use", help="The token joins once."),
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
def meetings_end(meeting_id: str = MeetingIdArg, as_json: bool = JsonOpt) -> None:
    """End a meeting for everyone: its tokens and join URL stop working."""

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
    """List signing keys (ids and lifetimes; never the keys)."""

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
