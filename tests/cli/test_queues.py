"""``frontdesk queues ...`` on a SQLite file, and a node taking the changes up."""

from __future__ import annotations

import json

from frontdesk.config import Settings
from frontdesk.domain.helpdesk import AgentProfile, Capacity, Queue
from frontdesk.server.app import create_app
from tests.cli.conftest import Cli


def test_queues_create_list_show_update_agents_and_delete(cli: Cli) -> None:
    hours = json.dumps({"mon": [["09:00", "17:00"]], "fri": [["09:00", "12:00"]]})
    out = cli.json(
        "queues", "create", "advice", "--topics", "mortgage,savings", "--languages", "en,fr",
        "--time-zone", "Europe/Paris", "--hours", hours, "--max-wait", "600", "--agents", "ann",
    )  # fmt: skip
    assert out["topics"] == ["mortgage", "savings"] and out["agents"] == ["ann"]
    assert out["hours"] == {"time_zone": "Europe/Paris", "weekly": json.loads(hours)}
    assert cli.json("queues", "add-agent", "advice", "bob")["agents"] == ["ann", "bob"]
    assert cli.json("queues", "remove-agent", "advice", "ann")["agents"] == ["bob"]
    out = cli.json("queues", "update", "advice", "--hours", "always", "--max-wait", "0")
    assert (out["hours"], out["max_wait_s"], out["topics"]) == (None, None, ["mortgage", "savings"])
    assert [q["name"] for q in cli.json("queues", "list")] == ["advice"]
    assert cli.json("queues", "show", "advice")["agents"] == ["bob"]
    out = cli.json("queues", "agent-capacity", "bob", "--video", "0", "--chats", "4")
    assert (out["video"], out["chats"]) == (0, 4)

    bad = cli("queues", "create", "Bad Name", "--json")
    assert bad.exit_code == 2 and json.loads(bad.stderr)["code"] == "validation_failed"
    bad = cli("queues", "create", "night", "--hours", '{"mon": [["18:00", "09:00"]]}', "--json")
    assert json.loads(bad.stderr)["code"] == "validation_failed"
    dup = cli("queues", "create", "advice", "--json")
    assert json.loads(dup.stderr)["code"] == "already_exists"

    cli.ok("queues", "delete", "advice")
    gone = cli("queues", "show", "advice", "--json")
    assert json.loads(gone.stderr)["code"] == "queue_not_found"


async def test_a_running_node_takes_up_what_the_cli_changed(cli: Cli) -> None:
    app = create_app(Settings(database_url=cli.database_url, public_url="http://frontdesk.test"))
    async with app.router.lifespan_context(app):
        helpdesk = app.state.helpdesk
        ops = app.state.ops
        assert helpdesk.queues() == []
        await ops.queues.create(Queue("advice", agents=frozenset({"ann"})))
        await ops.queues.set_profile(AgentProfile("ann", Capacity(0, 5)))
        assert await helpdesk.sync_settings() == 2
        assert [q.name for q in helpdesk.queues()] == ["advice"]
        assert helpdesk.router.agent("ann").profile.capacity == Capacity(0, 5)
        assert await helpdesk.sync_settings() == 0
