"""Entry point: ``frontdesk serve | apps | users | meetings | keys | join | demo | loadtest``."""

from __future__ import annotations

import typer

from frontdesk.cli.admin import apps, keys, meetings, users
from frontdesk.cli.demo import demo
from frontdesk.cli.join import join
from frontdesk.cli.loadtest import loadtest
from frontdesk.cli.serve import serve

__all__ = ["app", "version"]

app = typer.Typer(
    help=(
        "Frontdesk: self-hosted business-to-consumer meetings.\n\n"
        "Start with `frontdesk serve --dev` (a development application, agent and "
        "join link on 127.0.0.1), or `frontdesk serve` and then `frontdesk apps create`."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def version() -> str:
    """The installed package's version (the source tree's when run from it)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("frontdesk")
    except PackageNotFoundError:  # pragma: no cover - run from a bare source tree
        from frontdesk import __version__

        return __version__


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"frontdesk {version()}")
        raise typer.Exit()


@app.callback()
def main(
    show_version: bool = typer.Option(
        False,
        "--version",
        callback=_print_version,
        is_eager=True,
        help="Print the version and exit.",
    ),
) -> None:
    """Frontdesk: self-hosted business-to-consumer meetings."""


app.command("serve")(serve)
app.command("join")(join)
app.command("demo")(demo)
app.command("loadtest")(loadtest)
app.add_typer(apps, name="apps")
app.add_typer(users, name="users")
app.add_typer(meetings, name="meetings")
app.add_typer(keys, name="keys")


if __name__ == "__main__":  # pragma: no cover
    app()
