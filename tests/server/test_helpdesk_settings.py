"""The helpdesk's offer timeout and missed-offers limit are node settings
(FRONTDESK_HELPDESK_OFFER_TIMEOUT, FRONTDESK_HELPDESK_MISSED_OFFERS): read,
validated, and applied by the router (also after a restart)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from frontdesk.config import Settings
from frontdesk.domain.helpdesk import AgentPresence, AgentState, Medium, Queue, Tick, VisitState
from frontdesk.errors import ValidationFailed
from frontdesk.server.app import create_app
from frontdesk.server.helpdesk import Helpdesk


def test_defaults_and_the_environment() -> None:
    assert (Settings().helpdesk_offer_timeout, Settings().helpdesk_missed_offers) == (20.0, 2)
    s = Settings.from_env(
        {"FRONTDESK_HELPDESK_OFFER_TIMEOUT": "4", "FRONTDESK_HELPDESK_MISSED_OFFERS": "3"}
    )
    assert (s.helpdesk_offer_timeout, s.helpdesk_missed_offers) == (4.0, 3)
    assert (
        Settings.from_env({"FRONTDESK_HELPDESK_OFFER_TIMEOUT": "0.5"}).helpdesk_offer_timeout == 0.5
    )


@pytest.mark.parametrize(
    "env",
    [
        {"FRONTDESK_HELPDESK_OFFER_TIMEOUT": "0"},
        {"FRONTDESK_HELPDESK_OFFER_TIMEOUT": "-4"},
        {"FRONTDESK_HELPDESK_OFFER_TIMEOUT": "nan"},
        {"FRONTDESK_HELPDESK_OFFER_TIMEOUT": "inf"},
        {"FRONTDESK_HELPDESK_OFFER_TIMEOUT": "soon"},
        {"FRONTDESK_HELPDESK_MISSED_OFFERS": "0"},
        {"FRONTDESK_HELPDESK_MISSED_OFFERS": "-1"},
        {"FRONTDESK_HELPDESK_MISSED_OFFERS": "1.5"},
    ],
)
def test_values_that_are_not_positive_are_refused(env: dict[str, str]) -> None:
    with pytest.raises(ValidationFailed):
        Settings.from_env(env)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/fd.db",
        helpdesk_offer_timeout=4,
        helpdesk_missed_offers=1,
    )


async def test_the_router_offers_for_the_set_time_and_sets_away_after_the_set_misses(
    settings: Settings,
) -> None:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        ops, hd = app.state.ops, app.state.helpdesk
        assert isinstance(hd, Helpdesk)
        await ops.accounts.create("ann", "Ann", "correct horse battery")
        bank = await ops.apps.create("Harbor Bank")
        await hd.put_queue(Queue("advice", agents=frozenset({"ann"})))
        await hd.set_presence("ann", AgentPresence.AVAILABLE)
        made = await hd.create_visit(
            bank, queue="advice", display_name="Vera", medium=Medium.VIDEO, topic=None,
            language=None, context="",
        )  # fmt: skip
        offered = hd.router.visit(made.visit.visit_id)
        assert offered.state is VisitState.OFFERED and offered.offer_deadline is not None
        assert offered.offer_deadline - ops.clock() <= timedelta(seconds=4)
        assert offered.offer_deadline - ops.clock() > timedelta(seconds=3)

        real = ops.clock
        ops.clock = lambda: real() + timedelta(seconds=5)  # past 4 s, well short of 20
        await hd.run(Tick())
        assert hd.router.visit(made.visit.visit_id).state is VisitState.QUEUED
        assert hd.router.agent_state("ann") is AgentState.AWAY  # one miss is enough here

    # After a restart the restored router keeps the node's limits.
    app = create_app(settings.with_(helpdesk_missed_offers=2))
    async with app.router.lifespan_context(app):
        hd, ops = app.state.helpdesk, app.state.ops
        await hd.set_presence("ann", AgentPresence.AVAILABLE)
        # ann passed on Vera a moment ago: Walt, behind her, is offered.
        walt = await hd.create_visit(
            bank, queue="advice", display_name="Walt", medium=Medium.VIDEO, topic=None,
            language=None, context="",
        )  # fmt: skip
        offered = hd.router.visit(walt.visit.visit_id)
        assert offered.state is VisitState.OFFERED and offered.offer_deadline is not None
        assert offered.offer_deadline - ops.clock() <= timedelta(seconds=4)
        real = ops.clock
        ops.clock = lambda: real() + timedelta(seconds=5)
        await hd.run(Tick())
        assert hd.router.agent_state("ann") is AgentState.AVAILABLE  # two allowed now
