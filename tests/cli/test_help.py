"""Every command and every option of ``frontdesk`` explains itself; ``--version``."""

from __future__ import annotations

from collections.abc import Iterator
from importlib.metadata import version
from typing import Any

import typer
from typer.testing import CliRunner

from frontdesk.cli.main import app


def _commands(cmd: Any, path: str = "frontdesk") -> Iterator[tuple[str, Any]]:
    yield path, cmd
    if isinstance(getattr(cmd, "commands", None), dict):
        for name, sub in cmd.commands.items():
            yield from _commands(sub, f"{path} {name}")


def test_every_command_and_option_has_help() -> None:
    root = typer.main.get_command(app)
    missing = []
    seen = 0
    for path, cmd in _commands(root):
        seen += 1
        if not (cmd.help or "").strip():
            missing.append(path)
        for param in cmd.params:
            if param.name in ("install_completion", "show_completion", "help"):
                continue
            if not (getattr(param, "help", None) or "").strip():
                missing.append(f"{path} {param.opts[0] if param.opts else param.name}")
    assert seen > 20  # the whole tree was walked
    assert missing == []


def test_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"frontdesk {version('frontdesk')}"
