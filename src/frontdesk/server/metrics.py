"""Prometheus metrics of one node (a registry per app, so tests can run many)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from frontdesk.bus import Bus
from frontdesk.domain.helpdesk import QueueBoard
from frontdesk.domain.helpdesk.events import RouterEvent, VisitAccepted

__all__ = ["Metrics"]


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.http_requests = Counter(
            "frontdesk_http_requests_total",
            "HTTP requests",
            ["method", "route", "status"],
            registry=r,
        )
        self.http_latency = Histogram(
            "frontdesk_http_request_seconds", "HTTP request latency", ["route"], registry=r
        )
        self.tokens_issued = Counter(
            "frontdesk_tokens_issued_total", "Tokens issued", ["kind"], registry=r
        )
        self.meetings_live = Gauge(
            "frontdesk_meetings_live", "Live meetings on this node", registry=r
        )
        self.connections = Gauge("frontdesk_rtc_connections", "Open RTC connections", registry=r)
        self.rtc_messages = Counter(
            "frontdesk_rtc_messages_total", "RTC messages", ["direction", "type"], registry=r
        )
        self.chat_messages = Counter(
            "frontdesk_chat_messages_total", "Chat messages stored", registry=r
        )
        self.webhook_deliveries = Counter(
            "frontdesk_webhook_deliveries_total", "Webhook deliveries", ["outcome"], registry=r
        )
        self.leases_lost = Counter(
            "frontdesk_leases_lost_total",
            "Meetings this node stopped hosting without giving them up",
            ["why"],
            registry=r,
        )
        self.helpdesk_visits = Counter(
            "frontdesk_helpdesk_visits_total",
            "Helpdesk visits by what happened (queued, offered, accepted, abandoned, ...)",
            ["queue", "event"],
            registry=r,
        )
        self.helpdesk_wait = Histogram(
            "frontdesk_helpdesk_wait_seconds",
            "How long visitors waited before an agent accepted",
            ["queue"],
            buckets=(5, 10, 20, 30, 60, 120, 300, 600, 1800),
            registry=r,
        )
        self._bus = _BusCollector()
        r.register(self._bus)
        self._helpdesk = _HelpdeskCollector()
        r.register(self._helpdesk)

    def watch_bus(self, bus: Bus) -> None:
        """Export the health and the dropped publishes of the node's bus."""
        self._bus.bus = bus

    def watch_helpdesk(self, boards: Callable[[], Iterable[QueueBoard]]) -> None:
        """Export each queue's depth, longest wait and service level when scraped."""
        self._helpdesk.boards = boards

    def observe_helpdesk(self, event: RouterEvent) -> None:
        """Count a router event (and the wait of an accepted visit)."""
        visit = getattr(event, "visit", None)
        if visit is None:  # queue and agent changes are not visits
            return
        queue = str(visit.queue)
        self.helpdesk_visits.labels(queue, event.NAME.value.removeprefix("visit.")).inc()
        if isinstance(event, VisitAccepted):
            self.helpdesk_wait.labels(queue).observe(event.waited.total_seconds())


class _HelpdeskCollector(Collector):
    """Reads the router's boards when scraped."""

    def __init__(self) -> None:
        self.boards: Callable[[], Iterable[QueueBoard]] | None = None

    def collect(self) -> Iterator[Metric]:
        if self.boards is None:
            return
        depth = GaugeMetricFamily(
            "frontdesk_helpdesk_queue_depth",
            "Visitors waiting (or being offered)",
            labels=["queue"],
        )
        longest = GaugeMetricFamily(
            "frontdesk_helpdesk_longest_wait_seconds", "The longest current wait", labels=["queue"]
        )
        level = GaugeMetricFamily(
            "frontdesk_helpdesk_service_level",
            "Share of recent visits answered within the queue's target",
            labels=["queue"],
        )
        for b in self.boards():
            depth.add_metric([b.queue], float(b.waiting + b.offered))
            wait = b.longest_wait.total_seconds() if b.longest_wait is not None else 0.0
            longest.add_metric([b.queue], wait)
            if b.service_level is not None:
                level.add_metric([b.queue], b.service_level)
        yield depth
        yield longest
        yield level


class _BusCollector(Collector):
    """Reads the bus when scraped (it keeps its own counts)."""

    def __init__(self) -> None:
        self.bus: Bus | None = None

    def collect(self) -> Iterator[Metric]:
        bus = self.bus
        if bus is None:
            return
        healthy = GaugeMetricFamily(
            "frontdesk_bus_healthy", "1: hints flow between nodes; 0: degraded, nodes poll"
        )
        healthy.add_metric([], 1.0 if bus.healthy else 0.0)
        yield healthy
        dropped = CounterMetricFamily(
            "frontdesk_bus_dropped_publishes", "Hints not sent (bus degraded or backed up)"
        )
        dropped.add_metric([], float(bus.dropped_publishes))
        yield dropped
