"""Prometheus metrics of one node (a registry per app, so tests can run many)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from frontdesk.bus import Bus

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
        self._bus = _BusCollector()
        r.register(self._bus)

    def watch_bus(self, bus: Bus) -> None:
        """Export the health and the dropped publishes of the node's bus."""
        self._bus.bus = bus


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
