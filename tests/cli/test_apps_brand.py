"""``frontdesk apps create --display-name/--logo/--accent`` and ``frontdesk apps
brand``: the operator sets the brand an application's visitors see."""

from __future__ import annotations

import json
from pathlib import Path

from frontdesk.server.operations import Operations
from tests.cli.conftest import Cli

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))
WEBP = b"RIFF\x24\0\0\0WEBPVP8 " + bytes(32)


def _file(tmp_path: Path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_create_with_a_brand(cli: Cli, tmp_path: Path) -> None:
    out = cli.json(
        "apps",
        "create",
        "harbor-prod",
        "--display-name",
        "Harbor Bank",
        "--accent",
        "#0A5C8A",
        "--logo",
        _file(tmp_path, "logo.png", PNG),
    )
    assert out["name"] == "harbor-prod" and out["client_secret"]
    assert (out["display_name"], out["accent"]) == ("Harbor Bank", "#0a5c8a")
    assert out["logo_url"].startswith("http://frontdesk.test/v1/brand/logos/")

    async def stored(ops: Operations) -> tuple[str | None, bytes]:
        b = await ops.brands.of_app(out["client_id"])
        assert b.logo_etag is not None
        return b.display_name, (await ops.brands.logo(b.logo_etag)).data

    assert cli.with_ops(stored) == ("Harbor Bank", PNG)


def test_a_bad_brand_creates_no_app(cli: Cli, tmp_path: Path) -> None:
    svg = _file(tmp_path, "logo.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>")
    for extra in (["--logo", svg], ["--accent", "navy"], ["--display-name", "x" * 81]):
        r = cli("apps", "create", "Harbor", *extra, "--json")
        assert r.exit_code == 2, r.stdout
        assert json.loads(r.stderr)["code"] == "validation_failed"
    r = cli("apps", "create", "Harbor", "--logo", str(tmp_path / "missing.png"), "--json")
    assert r.exit_code == 2 and "cannot read the logo file" in json.loads(r.stderr)["detail"]
    assert cli.json("apps", "list") == []


def test_brand_shows_changes_and_clears(cli: Cli, tmp_path: Path) -> None:
    app = cli.json("apps", "create", "Harbor")
    cid = app["client_id"]
    assert "display_name" not in app  # no brand asked for, none shown
    shown = cli.json("apps", "brand", cid)
    assert shown == {
        "client_id": cid,
        "display_name": None,
        "accent": None,
        "accent_text": None,
        "logo_url": None,
        "updated_at": None,
    }
    b = cli.json("apps", "brand", cid, "--display-name", "Harbor Bank", "--accent", "#ffd400")
    assert (b["display_name"], b["accent"], b["accent_text"]) == (
        "Harbor Bank",
        "#ffd400",
        "#000000",
    )
    b = cli.json("apps", "brand", cid, "--logo", _file(tmp_path, "l.webp", WEBP))
    assert b["logo_url"] and b["display_name"] == "Harbor Bank"  # the rest kept
    b = cli.json("apps", "brand", cid, "--accent", "", "--no-logo")
    assert (b["accent"], b["logo_url"], b["display_name"]) == (None, None, "Harbor Bank")
    text = cli.ok("apps", "brand", cid).stdout
    assert "Harbor Bank" in text


def test_brand_refusals(cli: Cli, tmp_path: Path) -> None:
    cid = cli.json("apps", "create", "Harbor")["client_id"]
    r = cli("apps", "brand", "app_nope", "--json")
    assert r.exit_code == 2 and json.loads(r.stderr)["code"] == "app_not_found"
    r = cli("apps", "brand", cid, "--accent", "#12", "--json")
    assert r.exit_code == 2 and "#rrggbb" in json.loads(r.stderr)["detail"]
    png = _file(tmp_path, "l.png", PNG)
    r = cli("apps", "brand", cid, "--logo", png, "--no-logo")
    assert r.exit_code != 0
    big = _file(tmp_path, "big.png", PNG + bytes(300 * 1024))
    r = cli("apps", "brand", cid, "--logo", big, "--json")
    assert r.exit_code == 2 and json.loads(r.stderr)["code"] == "limit_exceeded"
    assert cli.json("apps", "brand", cid)["logo_url"] is None


def test_meetings_create_without_subject_names_the_organizer(cli: Cli) -> None:
    cli.ok("users", "create", "alice", "--display-name", "Alice Advisor", "--password-stdin",
           input="correct horse battery\n")  # fmt: skip
    m = cli.json("meetings", "create", "--organizer", "alice")
    assert m["subject"] == "Meeting with Alice Advisor"
    m = cli.json("meetings", "create", "--organizer", "alice", "--subject", "Mortgage advice")
    assert m["subject"] == "Mortgage advice"
