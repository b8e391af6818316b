"""Prometheus metrics of one node (a registry per app, so tests can run many)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

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
