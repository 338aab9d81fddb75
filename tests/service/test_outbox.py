"""The outbox dispatcher: delivery, retries with backoff, Retry-After, dead rows and alerts."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.delivery import DeliveryError, Notification, Receipt
from bot.notify import enqueue
from bot.outbox import Dispatcher
from storage.db import transaction
from storage.models import OutboxMessage
from tests.conftest import Clock
from tests.network import ADMIN, GK_HOME, STATEWIDE_COORD
from tests.service.helpers import published


class Recorder:
    """A transport that records what it is given and fails as scripted."""

    def __init__(self, failures: list[DeliveryError] | None = None) -> None:
        self.failures = list(failures or [])
        self.delivered: list[Notification] = []
        self.lock = threading.Lock()

    def deliver(self, notification: Notification) -> Receipt:
        with self.lock:
            if self.failures:
                raise self.failures.pop(0)
            self.delivered.append(notification)
        return Receipt(external_ref=f"ref-{notification.id}")


def _rows(sessions: sessionmaker[Session]) -> list[OutboxMessage]:
    with transaction(sessions) as s:
        return list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def test_due_rows_are_delivered_once_and_recorded(
    network: sessionmaker[Session], clock: Clock
) -> None:
    published(network)
    recorder = Recorder()
    dispatcher = Dispatcher(network, {"console": recorder}, clock=clock)
    assert dispatcher.run_once() == 2
    assert dispatcher.run_once() == 0
    assert sorted(n.address for n in recorder.delivered) == sorted([GK_HOME, STATEWIDE_COORD])
    rows = _rows(network)
    assert [(r.status, r.attempts, r.external_ref) for r in rows] == [
        ("sent", 1, f"ref-{rows[0].id}"),
        ("sent", 1, f"ref-{rows[1].id}"),
    ]


def test_a_failure_is_retried_with_exponential_backoff(
    network: sessionmaker[Session], clock: Clock
) -> None:
    published(network, needs=["DAY"])  # one gatekeeper row and one coordinator row
    recorder = Recorder([DeliveryError("timeout"), DeliveryError("timeout")])
    dispatcher = Dispatcher(network, {"console": recorder}, base_delay=60, clock=clock)
    assert dispatcher.run_once() == 0  # both rows fail once
    first = _rows(network)
    assert [(r.status, r.attempts, r.last_error) for r in first] == [("pending", 1, "timeout")] * 2
    for row in first:
        delay = row.next_attempt_at - clock.now
        assert timedelta(seconds=48) <= delay <= timedelta(seconds=72)  # 60 s with ±20 % jitter
    assert dispatcher.run_once() == 0  # not due yet: nothing is tried
    clock.advance(seconds=75)
    assert dispatcher.run_once() == 2
    assert [r.status for r in _rows(network)] == ["sent", "sent"]


def test_retry_after_from_the_far_side_is_honoured(
    network: sessionmaker[Session], clock: Clock
) -> None:
    published(network, needs=["DAY"])
    recorder = Recorder([DeliveryError("rate limited", retry_after=17)])
    dispatcher = Dispatcher(network, {"console": recorder}, clock=clock)
    assert dispatcher.run_once() == 0
    # Asked to wait, the channel pauses: the row keeps its attempts (a rate limit is no fault
    # of the message) and the rest of the batch is handed back untried.
    rows = _rows(network)
    limited = next(r for r in rows if r.last_error == "rate limited")
    assert (limited.status, limited.attempts) == ("pending", 0)
    assert limited.next_attempt_at - clock.now == timedelta(seconds=17)
    assert [(r.attempts, r.claimed_by) for r in rows] == [(0, None), (0, None)]
    assert recorder.delivered == []
    clock.advance(seconds=16)
    assert dispatcher.run_once() == 0  # still paused
    clock.advance(seconds=2)
    assert dispatcher.run_once() == 2


def test_after_max_attempts_a_row_is_dead_and_admins_are_told(
    network: sessionmaker[Session], clock: Clock
) -> None:
    published(network, needs=["DAY"])
    fails = [DeliveryError("mailbox unavailable", permanent=True)]
    recorder = Recorder(fails)
    dispatcher = Dispatcher(network, {"console": recorder}, batch=1, clock=clock)
    dispatcher.run_once()
    rows = _rows(network)
    dead = [r for r in rows if r.status == "dead"]
    assert len(dead) == 1 and dead[0].last_error == "mailbox unavailable"
    alerts = [r for r in rows if r.kind == "delivery_failed"]
    assert [(a.address, a.payload["failed_address"]) for a in alerts] == [(ADMIN, dead[0].address)]


class AlwaysDown:
    def deliver(self, notification: Notification) -> Receipt:
        raise DeliveryError("connection refused")


def test_transient_failures_end_dead_after_max_attempts(
    network: sessionmaker[Session], clock: Clock
) -> None:
    published(network, needs=["DAY"])
    dispatcher = Dispatcher(
        network, {"console": AlwaysDown()}, max_attempts=3, base_delay=1, clock=clock
    )
    for _ in range(3):
        dispatcher.run_once()
        clock.advance(hours=2)
    rows = _rows(network)
    assert sorted(
        (r.kind, r.status, r.attempts) for r in rows if r.kind == "referral_published"
    ) == [
        ("referral_published", "dead", 3),
        ("referral_published", "dead", 3),
    ]
    # Each dead row raised one alert to the admin; an alert that itself dies raises none.
    alerts = [r for r in rows if r.kind == "delivery_failed"]
    assert len(alerts) == 2
    for _ in range(3):
        dispatcher.run_once()
        clock.advance(hours=2)
    assert len([r for r in _rows(network) if r.kind == "delivery_failed"]) == 2


def test_rows_of_channels_without_a_transport_wait(
    network: sessionmaker[Session], clock: Clock
) -> None:
    published(network)
    dispatcher = Dispatcher(network, {"slack": Recorder()}, clock=clock)
    assert dispatcher.run_once() == 0
    assert [r.status for r in _rows(network)] == ["pending", "pending"]


def test_a_lease_lets_another_dispatcher_retry_a_crashed_delivery(
    network: sessionmaker[Session], clock: Clock
) -> None:
    published(network, needs=["DAY"])
    crashed = Dispatcher(network, {"console": Recorder()}, clock=clock)
    claimed = crashed.claim()  # claimed, then the process "dies" before delivering
    assert len(claimed.notes) == 2
    other = Dispatcher(network, {"console": Recorder()}, clock=clock)
    assert other.run_once() == 0  # still leased
    clock.advance(seconds=5)  # the default lease is 4 s, renewed only while its holder lives
    assert other.run_once() == 2


def test_enqueue_is_idempotent_by_key(network: sessionmaker[Session]) -> None:

    for _ in range(2):
        with transaction(network) as s:
            added = enqueue(
                s,
                key="digest:2026-03-02:C0CENTRAL",
                channel="console",
                kind="digest",
                address="C0CENTRAL",
                staff_id=None,
                referral_id=None,
                payload={},
            )
    assert not added
    assert len([r for r in _rows(network) if r.key == "digest:2026-03-02:C0CENTRAL"]) == 1


Factory = Callable[[], Dispatcher]
