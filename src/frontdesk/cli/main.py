"""Entry point: ``frontdesk serve | apps | users | meetings | queues | keys | join |
demo | loadtest``."""

from __future__ import annotations

import typer

from frontdesk.cli.admin import apps, keys, meetings, users
from frontdesk.cli.demo import demo
from frontdesk.cli.join import join
from frontdesk.cli.loadtest import loadtest
from frontdesk.cli.queues import queues
from frontdesk.cli.serve import serve

__all__ = ["app"]

app = typer.Typer(
    help="Frontdesk: self-hosted business-to-consumer meetings.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command("serve")(serve)
app.command("join")(join)
app.command("demo")(demo)
app.command("loadtest")(loadtest)
app.add_typer(apps, name="apps")
app.add_typer(users, name="users")
app.add_typer(meetings, name="meetings")
app.add_typer(queues, name="queues")
app.add_typer(keys, name="keys")


if __name__ == "__main__":  # pragma: no cover
    app()
