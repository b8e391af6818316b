"""A queue as the outside reads it: the JSON the service API answers and
``frontdesk queues --json`` prints, from one function, so the two never drift
(and the CLI needs no HTTP routes to print a queue)."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from frontdesk.domain.helpdesk import Queue

__all__ = ["queue_out", "seconds_out"]


def seconds_out(value: timedelta | None) -> int | None:
    """A duration as whole seconds, rounded up (``None`` stays ``None``)."""
    return None if value is None else math.ceil(value.total_seconds())


def queue_out(q: Queue) -> dict[str, Any]:
    return {
        "name": q.name,
        "topics": sorted(q.topics),
        "languages": sorted(q.languages),
        "hours": None
        if q.hours is None
        else {"time_zone": q.hours.time_zone, "weekly": q.hours.to_dict()},
        "max_wait_s": seconds_out(q.max_wait),
        "service_level_s": seconds_out(q.service_level),
        "agents": sorted(q.agents),
    }
