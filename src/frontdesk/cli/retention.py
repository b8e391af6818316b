"""``frontdesk retention run``: apply the chat retention policy once, on the
database named by ``FRONTDESK_DATABASE_URL`` (see :mod:`frontdesk.server.retention`)."""

from __future__ import annotations

from typing import Any

import typer

from frontdesk.cli._common import JsonOpt, emit, run
from frontdesk.server.operations import Operations

__all__ = ["retention"]

retention = typer.Typer(
    help="Chat retention (FRONTDESK_CHAT_RETENTION_DAYS).", no_args_is_help=True
)


@retention.command("run")
def retention_run(
    days: int | None = typer.Option(
        None,
        "--days",
        min=1,
        help="Retention in days (default: FRONTDESK_CHAT_RETENTION_DAYS).",
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Delete the text of chat older than the retention, keeping who wrote when.
    Runs until nothing older is left. Safe while nodes run (and run it too);
    nodes clear what their live rooms hold in memory at their own next run."""

    async def go(ops: Operations) -> dict[str, Any]:
        total, meetings = 0, 0
        while True:
            done = await ops.retention.run(days=days)
            if done.cutoff is None:
                return {"enabled": False, "redacted": 0, "meetings": 0, "cutoff": None}
            total += done.redacted
            meetings += done.meetings
            if done.complete:
                return {
                    "enabled": True,
                    "redacted": total,
                    "meetings": meetings,
                    "cutoff": done.cutoff,
                }

    out = run(go, as_json=as_json)
    if not as_json and not out["enabled"]:
        typer.echo("Chat retention is off: set FRONTDESK_CHAT_RETENTION_DAYS or pass --days.")
        return
    emit(out, as_json=as_json, columns=["redacted", "meetings", "cutoff"], title="Chat retention")
