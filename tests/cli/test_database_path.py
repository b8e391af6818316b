"""One database for ``frontdesk serve`` and the admin commands wherever they run:
the same default path from any folder of the project, never an empty database
made behind the user's back, and every error names the database it concerns."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from frontdesk.cli.main import app
from frontdesk.config import default_database_path
from frontdesk.store.migrate import upgrade, upgrade_async
from tests.support.databases import postgres_url_or_skip, schema_url, sqlite_url, temp_schema


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


@pytest.fixture
def no_url(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.delenv("FRONTDESK_DATABASE_URL", raising=False)
    return monkeypatch


def test_admin_commands_find_the_served_database_from_a_subfolder(
    tmp_path: Path, no_url: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    db = project / "var" / "frontdesk.db"
    upgrade(sqlite_url(db))  # what `frontdesk serve` leaves in ./var/
    (project / "pyproject.toml").write_text("")  # a project's root
    deeper = project / "examples" / "deeper"
    deeper.mkdir(parents=True)
    no_url.chdir(deeper)
    assert default_database_path() == db
    created = json.loads(run("apps", "create", "Harbor Bank", "--json").stdout)
    no_url.chdir(project)
    listed = json.loads(run("apps", "list", "--json").stdout)
    assert [a["client_id"] for a in listed] == [created["client_id"]]
    assert not (deeper / "var").exists()


def test_the_search_stops_at_the_project_root(tmp_path: Path) -> None:
    stray = tmp_path / "var" / "frontdesk.db"  # above the project: never picked
    upgrade(sqlite_url(stray))
    project = tmp_path / "project"
    (project / ".git").mkdir(parents=True)
    inside = project / "src" / "deep"
    inside.mkdir(parents=True)
    assert default_database_path(inside) == inside / "var" / "frontdesk.db"
    outside = tmp_path / "elsewhere" / "deeper"  # not in a project: the folder itself
    outside.mkdir(parents=True)
    assert default_database_path(outside) == outside / "var" / "frontdesk.db"
    served = project / "var" / "frontdesk.db"
    upgrade(sqlite_url(served))
    assert default_database_path(inside) == served
    assert default_database_path(tmp_path) == stray  # its own ./var/


def test_no_database_is_created_for_an_admin_command(
    tmp_path: Path, no_url: pytest.MonkeyPatch
) -> None:
    no_url.chdir(tmp_path)
    result = run("users", "list", "--json")
    assert result.exit_code == 2 and result.stdout == ""
    body = json.loads(result.stderr)
    expected = str(tmp_path.resolve() / "var" / "frontdesk.db")
    assert body["code"] == "not_found" and body["database"] == expected
    assert expected in body["detail"] and "frontdesk serve" in body["detail"]
    assert not (tmp_path / "var").exists()
    human = run("users", "create", "alice", "--display-name", "Alice", "--password-stdin")
    assert human.exit_code == 2
    assert f"database: {expected}" in human.stderr
    assert not (tmp_path / "var").exists()


def test_an_explicit_url_to_a_missing_file_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "typo" / "fronddesk.db"
    monkeypatch.setenv("FRONTDESK_DATABASE_URL", sqlite_url(missing))
    result = run("apps", "list", "--json")
    body = json.loads(result.stderr)
    assert result.exit_code == 2 and body["code"] == "not_found"
    assert body["database"] == str(missing) and "FRONTDESK_DATABASE_URL" in body["detail"]
    assert not missing.parent.exists()


def test_every_error_names_the_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = sqlite_url(tmp_path / "fd.db")
    upgrade(url)
    monkeypatch.setenv("FRONTDESK_DATABASE_URL", url)
    result = run("meetings", "create", "--organizer", "nobody")
    assert result.exit_code == 2
    assert "is not a Frontdesk user" in result.stderr
    assert f"database: {tmp_path / 'fd.db'}" in result.stderr


@pytest.mark.postgres
async def test_a_postgres_database_without_the_schema_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    base = await postgres_url_or_skip()
    async with temp_schema(base) as schema:
        url = schema_url(base, schema)
        monkeypatch.setenv("FRONTDESK_DATABASE_URL", url)
        from frontdesk.cli._common import open_existing
        from frontdesk.config import Settings
        from frontdesk.errors import NotFound

        with pytest.raises(NotFound, match="no Frontdesk schema in"):
            await open_existing(Settings.from_env())
        await upgrade_async(url)
        store = await open_existing(Settings.from_env())
        await store.close()
