"""Entry point: ``frontdesk serve | apps | users | meetings | keys | retention | join | demo |
loadtest``.

``join``, ``demo`` and ``loadtest`` drive the SDKs (the Python App SDK, the
service client, raw load clients): their modules are imported only when one of
them is run (or help lists them), so a node started with ``frontdesk serve``
does not carry the client side in its memory.
"""

from __future__ import annotations

import importlib
from typing import Any

import typer
from typer.core import TyperGroup

from frontdesk.cli.admin import apps, keys, meetings, users
from frontdesk.cli.retention import retention
from frontdesk.cli.serve import serve

__all__ = ["app"]

#: Commands imported when named: name -> (module, function).
_LAZY = {
    "join": ("frontdesk.cli.join", "join"),
    "demo": ("frontdesk.cli.demo", "demo"),
    "loadtest": ("frontdesk.cli.loadtest", "loadtest"),
}


class _Commands(TyperGroup):
    """The top-level group: the commands of :data:`_LAZY` are built on demand."""

    def list_commands(self, ctx: Any) -> list[str]:
        names = list(super().list_commands(ctx))
        lazy = [name for name in _LAZY if name not in names]
        return names[:1] + lazy + names[1:]  # serve, join, demo, loadtest, admin groups

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        found = super().get_command(ctx, cmd_name)
        if found is None and cmd_name in _LAZY:
            module, attr = _LAZY[cmd_name]
            one = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
            one.command(cmd_name)(getattr(importlib.import_module(module), attr))
            found = typer.main.get_command(one)
            self.add_command(found, cmd_name)
        return found


app = typer.Typer(
    cls=_Commands,
    help="Frontdesk: self-hosted business-to-consumer meetings.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command("serve")(serve)
app.add_typer(apps, name="apps")
app.add_typer(users, name="users")
app.add_typer(meetings, name="meetings")
app.add_typer(keys, name="keys")
app.add_typer(retention, name="retention")


if __name__ == "__main__":  # pragma: no cover
    app()
