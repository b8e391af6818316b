"""``frontdesk apps | users | meetings | keys`` end to end on a SQLite file."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from frontdesk.domain.model import MeetingState, Role
from frontdesk.errors import (
    InvalidClient,
    InvalidCredentials,
    MeetingEnded,
    TokenInvalid,
    TokenUsed,
)
from frontdesk.server.operations import Operations
from tests.cli.conftest import Cli

PASSWORD = "correct horse battery"


def problem_code(result) -> str:  # type: ignore[no-untyped-def]
    """The stable ``code`` of the problem+json the CLI printed on stderr."""
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    body = json.loads(result.stderr)
    assert body["detail"]
    return str(body["code"])


def make_alice(cli: Cli) -> None:
    cli.ok(
        "users", "create", "alice", "--display-name", "Alice Advisor", "--password-stdin",
        input=PASSWORD + "\n",
    )  # fmt: skip


# --- apps -----------------------------------------------------------------------------
def test_apps_create_prints_the_secret_once_and_stores_a_hash(cli: Cli) -> None:
    out = cli.json("apps", "create", "Harbor Bank")
    assert set(out) >= {"client_id", "client_secret"}
    assert out["name"] == "Harbor Bank"
    secret = out["client_secret"]
    assert len(secret) >= 32

    async def check(ops: Operations) -> str:
        stored = await ops.store.get_app(out["client_id"])
        app = await ops.apps.authenticate(out["client_id"], secret)
        assert app.client_id == out["client_id"]
        with pytest.raises(InvalidClient):
            await ops.apps.authenticate(out["client_id"], secret + "x")
        return stored.secret_hash

    stored_hash = cli.with_ops(check)
    assert stored_hash.startswith("$argon2")
    assert secret not in stored_hash
    # Listing never shows the secret again, in either output form.
    listed = cli.json("apps", "list")
    assert secret not in json.dumps(listed)
    assert secret not in cli.ok("apps", "list").stdout


def test_apps_create_table_output_shows_the_credentials(cli: Cli) -> None:
    text = cli.ok("apps", "create", "Harbor Bank").stdout
    assert "client_secret" in text and "Harbor Bank" in text
    assert "not shown again" in text


def test_apps_list_and_revoke(cli: Cli) -> None:
    first = cli.json("apps", "create", "Harbor Bank")
    second = cli.json("apps", "create", "Quay Insurance")
    listed = {a["client_id"]: a for a in cli.json("apps", "list")}
    assert set(listed) == {first["client_id"], second["client_id"]}
    assert all(a["active"] and a["revoked_at"] is None for a in listed.values())

    revoked = cli.json("apps", "revoke", first["client_id"])
    assert revoked["active"] is False and revoked["revoked_at"]

    async def check(ops: Operations) -> None:
        with pytest.raises(InvalidClient):
            await ops.apps.authenticate(first["client_id"], first["client_secret"])
        still = await ops.apps.authenticate(second["client_id"], second["client_secret"])
        assert still.active

    cli.with_ops(check)
    after = {a["client_id"]: a for a in cli.json("apps", "list")}
    assert after[first["client_id"]]["active"] is False
    assert after[second["client_id"]]["active"] is True


def test_apps_rotate_secret_keeps_the_old_one_for_the_overlap(cli: Cli) -> None:
    app = cli.json("apps", "create", "Harbor Bank")
    rotated = cli.json("apps", "rotate-secret", app["client_id"], "--overlap-s", "3600")
    assert rotated["client_id"] == app["client_id"]
    assert rotated["client_secret"] != app["client_secret"]

    async def both_work(ops: Operations) -> None:
        await ops.apps.authenticate(app["client_id"], app["client_secret"])
        await ops.apps.authenticate(app["client_id"], rotated["client_secret"])

    cli.with_ops(both_work)
    # Rotating again at once with no overlap: only the newest secret works.
    newest = cli.json("apps", "rotate-secret", app["client_id"], "--overlap-s", "0")

    async def only_newest(ops: Operations) -> None:
        await ops.apps.authenticate(app["client_id"], newest["client_secret"])
        for old in (app["client_secret"], rotated["client_secret"]):
            with pytest.raises(InvalidClient):
                await ops.apps.authenticate(app["client_id"], old)

    cli.with_ops(only_newest)
    assert cli.json("apps", "list")[0]["active"] is True  # a rotation is no revocation


def test_the_old_secret_stops_after_the_overlap(cli: Cli) -> None:
    from datetime import UTC, datetime, timedelta

    app = cli.json("apps", "create", "Harbor Bank")
    cli.json("apps", "rotate-secret", app["client_id"], "--overlap-s", "60")

    async def later(ops: Operations) -> None:
        ops.clock = lambda: datetime.now(UTC) + timedelta(seconds=61)
        with pytest.raises(InvalidClient):
            await ops.apps.authenticate(app["client_id"], app["client_secret"])

    cli.with_ops(later)


def test_apps_revoke_unknown_is_a_typed_error(cli: Cli) -> None:
    assert problem_code(cli("apps", "revoke", "app_nope", "--json")) == "app_not_found"
    human = cli("apps", "revoke", "app_nope")
    assert human.exit_code == 2
    assert "app_not_found" in human.stderr


# --- users ----------------------------------------------------------------------------
def test_users_create_reads_the_password_from_stdin(cli: Cli) -> None:
    out = cli.json(
        "users", "create", "alice", "--display-name", "Alice Advisor", "--password-stdin",
        input=PASSWORD + "\n",
    )  # fmt: skip
    assert out["username"] == "alice" and out["display_name"] == "Alice Advisor"
    assert PASSWORD not in json.dumps(out)

    async def check(ops: Operations) -> str:
        _token, _claims, user = await ops.accounts.login("alice", PASSWORD)
        with pytest.raises(InvalidCredentials):
            await ops.accounts.login("alice", PASSWORD + "!")
        return user.password_hash

    stored = cli.with_ops(check)
    assert stored.startswith("$argon2") and PASSWORD not in stored
    assert [u["username"] for u in cli.json("users", "list")] == ["alice"]


def test_users_create_refuses_a_short_password(cli: Cli) -> None:
    result = cli(
        "users", "create", "bob", "--display-name", "Bob", "--password-stdin", "--json",
        input="short\n",
    )  # fmt: skip
    assert problem_code(result) == "validation_failed"
    assert cli.json("users", "list") == []


def test_users_create_refuses_a_hostile_display_name(cli: Cli) -> None:
    result = cli(
        "users", "create", "mallory", "--display-name", "Alice\u202eAdvisor",
        "--password-stdin", "--json", input=PASSWORD + "\n",
    )  # fmt: skip
    assert problem_code(result) == "validation_failed"
    assert "U+202E RIGHT-TO-LEFT OVERRIDE" in json.loads(result.stderr)["detail"]
    assert cli.json("users", "list") == []


def test_users_create_stores_the_normal_form(cli: Cli) -> None:
    out = cli.json(
        "users", "create", "bob", "--display-name", "\uff22\uff4f\uff42\u3000 Builder ",
        "--password-stdin", input=PASSWORD + "\n",
    )  # fmt: skip
    assert out["display_name"] == "Bob Builder"
    assert [u["display_name"] for u in cli.json("users", "list")] == ["Bob Builder"]


def test_users_rename(cli: Cli) -> None:
    make_alice(cli)
    out = cli.json("users", "rename", "alice", "--display-name", " Alice   Adviser ")
    assert out == {"username": "alice", "display_name": "Alice Adviser"}
    refused = cli("users", "rename", "alice", "--display-name", "Al\u200bice", "--json")
    assert problem_code(refused) == "validation_failed"
    assert problem_code(cli("users", "rename", "bob", "--display-name", "Bob", "--json")) == (
        "user_not_found"
    )
    assert [u["display_name"] for u in cli.json("users", "list")] == ["Alice Adviser"]


def test_users_roles(cli: Cli) -> None:
    """Users are agents unless made supervisors, at creation or later."""
    make_alice(cli)
    sam = cli.json(
        "users", "create", "sam", "--display-name", "Sam Supervisor", "--role", "supervisor",
        "--password-stdin", input=PASSWORD + "\n",
    )  # fmt: skip
    assert sam["role"] == "supervisor"
    assert {u["username"]: u["role"] for u in cli.json("users", "list")} == {
        "alice": "agent",
        "sam": "supervisor",
    }
    assert cli.json("users", "set-role", "alice", "supervisor")["role"] == "supervisor"
    assert cli.json("users", "set-role", "sam", "agent")["role"] == "agent"
    assert {u["username"]: u["role"] for u in cli.json("users", "list")} == {
        "alice": "supervisor",
        "sam": "agent",
    }
    assert cli("users", "set-role", "alice", "admin", "--json").exit_code == 2  # usage
    assert problem_code(cli("users", "set-role", "bob", "agent", "--json")) == "user_not_found"


def test_users_create_twice_is_a_conflict(cli: Cli) -> None:
    make_alice(cli)
    again = cli(
        "users", "create", "alice", "--display-name", "Alice", "--password-stdin", "--json",
        input=PASSWORD + "\n",
    )  # fmt: skip
    assert problem_code(again) == "already_exists"


# --- meetings -------------------------------------------------------------------------
def test_meetings_create_token_list_end(cli: Cli) -> None:
    make_alice(cli)
    meeting = cli.json("meetings", "create", "--organizer", "alice", "--subject", "Mortgage")
    assert meeting["organizer"] == "alice" and meeting["state"] == "active"
    assert meeting["access_policy"] == "lobby"
    assert meeting["join_url"].startswith("http://frontdesk.test/j/")
    assert "join_code" not in meeting

    before = datetime.now(UTC)
    grant = cli.json("meetings", "token", meeting["id"], "--name", "Ann")
    assert set(grant) >= {"token", "discovery_uri", "expires_at"}
    assert grant["discovery_uri"] == f"http://frontdesk.test/v1/discovery/{meeting['id']}"
    expires = datetime.fromisoformat(grant["expires_at"])
    assert before + timedelta(seconds=590) <= expires <= before + timedelta(seconds=620)

    async def verify(ops: Operations) -> None:
        claims, m = await ops.guest_tokens.check(grant["token"], meeting["id"])
        assert m.id == meeting["id"]
        assert claims.display_name == "Ann" and claims.role is Role.GUEST
        assert not claims.single_use

    cli.with_ops(verify)

    listed = cli.json("meetings", "list")
    assert [m["id"] for m in listed] == [meeting["id"]]
    assert cli.json("meetings", "list", "--organizer", "bob") == []
    table = cli.ok("meetings", "list").stdout
    assert meeting["id"] in table

    ended = cli.json("meetings", "end", meeting["id"])
    assert ended["state"] == "ended" and ended["ended_at"]
    assert [m["id"] for m in cli.json("meetings", "list", "--state", "ended")] == [meeting["id"]]
    assert cli.json("meetings", "list", "--state", "active") == []

    async def refused(ops: Operations) -> None:
        with pytest.raises(MeetingEnded):
            await ops.guest_tokens.check(grant["token"], meeting["id"])
        assert (await ops.meetings.get(meeting["id"])).state is MeetingState.ENDED

    cli.with_ops(refused)
    late = cli("meetings", "token", meeting["id"], "--name", "Ann", "--json")
    assert problem_code(late) == "meeting_ended"


def test_meetings_token_options(cli: Cli) -> None:
    make_alice(cli)
    meeting = cli.json("meetings", "create", "--organizer", "alice", "--policy", "deny")
    assert meeting["access_policy"] == "deny"
    grant = cli.json(
        "meetings", "token", meeting["id"], "--name", "Ann", "--role", "attendee",
        "--ttl", "60", "--single-use",
    )  # fmt: skip

    async def verify(ops: Operations) -> None:
        claims, _ = await ops.guest_tokens.check(grant["token"], meeting["id"])
        assert claims.role is Role.ATTENDEE and claims.single_use
        assert await ops.guest_tokens.consume(claims)
        assert (claims.expires_at - claims.issued_at).total_seconds() == 60
        with pytest.raises(TokenUsed):
            await ops.guest_tokens.check(grant["token"], meeting["id"])

    cli.with_ops(verify)
    organizer = cli(
        "meetings", "token", meeting["id"], "--name", "X", "--role", "organizer", "--json"
    )
    assert problem_code(organizer) == "validation_failed"


def test_meetings_errors(cli: Cli) -> None:
    nobody = cli("meetings", "create", "--organizer", "nobody", "--json")
    assert problem_code(nobody) == "validation_failed"
    missing = cli("meetings", "token", "m_nope", "--name", "Ann", "--json")
    assert problem_code(missing) == "meeting_not_found"
    assert problem_code(cli("meetings", "end", "m_nope", "--json")) == "meeting_not_found"


# --- keys -----------------------------------------------------------------------------
def test_keys_rotate_retires_the_old_key(cli: Cli) -> None:
    make_alice(cli)
    meeting = cli.json("meetings", "create", "--organizer", "alice")
    old_grant = cli.json("meetings", "token", meeting["id"], "--name", "Ann")
    [old] = cli.json("keys", "list")
    assert old["retired_at"] is None

    rotated = cli.json("keys", "rotate")
    assert rotated["kid"] != old["kid"]
    listed = {k["kid"]: k for k in cli.json("keys", "list")}
    assert set(listed) == {old["kid"], rotated["kid"]}
    assert listed[old["kid"]]["retired_at"] is not None
    assert listed[old["kid"]]["expires_at"] is not None
    assert listed[rotated["kid"]]["retired_at"] is None

    new_grant = cli.json("meetings", "token", meeting["id"], "--name", "Bo")
    assert jwt.get_unverified_header(old_grant["token"])["kid"] == old["kid"]
    assert jwt.get_unverified_header(new_grant["token"])["kid"] == rotated["kid"]

    async def verify(ops: Operations) -> None:
        # A token signed by the retired key still verifies until the overlap ends.
        old_claims, _ = await ops.guest_tokens.check(old_grant["token"], meeting["id"])
        new_claims, _ = await ops.guest_tokens.check(new_grant["token"], meeting["id"])
        assert (old_claims.display_name, new_claims.display_name) == ("Ann", "Bo")

    cli.with_ops(verify)


def test_users_list_disable_enable(cli: Cli) -> None:
    make_alice(cli)
    [row] = cli.json("users", "list")
    assert row["username"] == "alice" and row["state"] == "active"
    assert "active" in cli.ok("users", "list").stdout

    async def session(ops: Operations) -> str:
        token, _claims, _user = await ops.accounts.login("alice", PASSWORD)
        return token

    token = cli.with_ops(session)
    assert cli.json("users", "disable", "alice")["state"] == "disabled"
    assert cli.json("users", "list")[0]["state"] == "disabled"

    async def refused(ops: Operations) -> None:
        with pytest.raises(InvalidCredentials):
            await ops.accounts.login("alice", PASSWORD)
        with pytest.raises(TokenInvalid):
            await ops.accounts.for_session(token)  # the session it held stops too

    cli.with_ops(refused)
    assert cli.json("users", "enable", "alice")["state"] == "active"
    cli.with_ops(session)
    assert problem_code(cli("users", "disable", "bob", "--json")) == "user_not_found"


def test_users_set_password(cli: Cli) -> None:
    make_alice(cli)
    new = "a brand new passphrase"
    out = cli.json("users", "set-password", "alice", "--password-stdin", input=new + "\n")
    assert out == {"username": "alice", "password_changed": True}

    async def check(ops: Operations) -> None:
        await ops.accounts.login("alice", new)
        with pytest.raises(InvalidCredentials):
            await ops.accounts.login("alice", PASSWORD)

    cli.with_ops(check)
    short = cli("users", "set-password", "alice", "--password-stdin", "--json", input="short\n")
    assert problem_code(short) == "validation_failed"
    missing = cli("users", "set-password", "bob", "--password-stdin", "--json", input=new + "\n")
    assert problem_code(missing) == "user_not_found"


def test_users_delete_ends_the_open_meetings(cli: Cli) -> None:
    make_alice(cli)
    cli.ok(
        "users", "create", "bob", "--display-name", "Bob Advisor", "--password-stdin",
        input=PASSWORD + "\n",
    )  # fmt: skip
    mine = cli.json("meetings", "create", "--organizer", "alice")
    bobs = cli.json("meetings", "create", "--organizer", "bob")
    # Without --yes (and without --json) it asks; "n" keeps everything.
    kept = cli("users", "delete", "alice", input="n\n")
    assert kept.exit_code != 0
    assert {u["username"] for u in cli.json("users", "list")} == {"alice", "bob"}

    out = cli.json("users", "delete", "alice")
    assert out == {"username": "alice", "deleted": True, "meetings_ended": [mine["id"]]}
    assert [u["username"] for u in cli.json("users", "list")] == ["bob"]
    states = {m["id"]: m["state"] for m in cli.json("meetings", "list")}
    assert states == {mine["id"]: "ended", bobs["id"]: "active"}

    async def gone(ops: Operations) -> None:
        with pytest.raises(InvalidCredentials):
            await ops.accounts.login("alice", PASSWORD)

    cli.with_ops(gone)
    assert problem_code(cli("users", "delete", "alice", "--yes", "--json")) == "user_not_found"
