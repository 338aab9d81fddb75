"""Prometheus metrics: what is measured in the process, and what is read from the database."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import SQLAlchemyError

from bot.delivery import DeliveryError, Notification, Receipt, Transport
from bot.logs import bound
from storage.models import InboundEmail, OutboxMessage
from storage.types import utcnow

# One registry per process (not prometheus_client's global one), so tests can build several apps.
REGISTRY = CollectorRegistry()

DELIVERY_SECONDS = Histogram(
    "closeloop_delivery_latency_seconds",
    "From a notification's outbox row being written to its delivery, by channel.",
    ["channel"],
    buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600),
    registry=REGISTRY,
)
DELIVERIES = Counter(
    "closeloop_deliveries",
    "Delivery attempts by channel and result (delivered, failed).",
    ["channel", "result"],
    registry=REGISTRY,
)
SLACK_ACK_SECONDS = Histogram(
    "closeloop_slack_ack_latency_seconds",
    "Time from a Slack request's arrival to our answer (Slack allows 3 seconds).",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5),
    registry=REGISTRY,
)
HTTP_SECONDS = Histogram(
    "closeloop_http_request_seconds",
    "Web requests by route and status class.",
    ["route", "status"],
    registry=REGISTRY,
)
JOB_RUNS = Counter(
    "closeloop_job_runs",
    "Scheduled job runs by job and result (ok, error).",
    ["job", "result"],
    registry=REGISTRY,
)
JOB_NOTIFICATIONS = Counter(
    "closeloop_job_notifications",
    "Notifications written by scheduled jobs.",
    ["job"],
    registry=REGISTRY,
)


class DatabaseCollector(Collector):
    """Read at scrape time from the database, so every process's work shows on the web's
    /metrics: the outbox's depth (rows not yet sent) and inbound email outcomes."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily(
            "closeloop_outbox_depth",
            "Outbox rows not yet sent, by state and channel.",
            labels=["state", "channel"],
        )
        inbound = CounterMetricFamily(
            "closeloop_inbound_emails",
            "Email replies read from the mailbox, by outcome (processed, rejected, ...).",
            labels=["outcome"],
        )
        up = GaugeMetricFamily(
            "closeloop_database_up", "1 when the database answered this scrape, else 0."
        )
        try:
            with self.engine.connect() as connection:
                for status, channel, count in connection.execute(
                    select(OutboxMessage.status, OutboxMessage.channel, func.count())
                    .where(OutboxMessage.status != "sent")
                    .group_by(OutboxMessage.status, OutboxMessage.channel)
                ):
                    depth.add_metric([status, channel], count)
                for outcome, count in connection.execute(
                    select(InboundEmail.outcome, func.count()).group_by(InboundEmail.outcome)
                ):
                    inbound.add_metric([str(outcome).lower()], count)
            up.add_metric([], 1)
        except SQLAlchemyError:
            # The process's own metrics still answer; /healthz says what is wrong.
            up.add_metric([], 0)
        yield up
        yield depth
        yield inbound


_database: DatabaseCollector | None = None


def watch_database(engine: Engine) -> None:
    """Read the outbox and inbound counts from this engine (the web app calls it; the newest
    app's engine wins, which only matters to tests that build several)."""
    global _database
    if _database is None:
        _database = DatabaseCollector(engine)
        REGISTRY.register(_database)
    else:
        _database.engine = engine


class MeasuredTransport:
    """Wraps a transport: delivery results and latency (from the row's creation, which the
    dispatcher read with the claim), and the outbox row's id in every log line written while
    it is delivered."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner

    def deliver(self, notification: Notification) -> Receipt:
        with bound(message_id=str(notification.id), channel=notification.channel):
            try:
                receipt = self.inner.deliver(notification)
            except DeliveryError:
                DELIVERIES.labels(notification.channel, "failed").inc()
                raise
        DELIVERIES.labels(notification.channel, "delivered").inc()
        if notification.created_at is not None:
            DELIVERY_SECONDS.labels(notification.channel).observe(
                max(0.0, (utcnow() - notification.created_at).total_seconds())
            )
        return receipt

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)
