"""Outbox claims: leases, heartbeats, the fence on the final write, and a far side that is down.

Two dispatchers share the database as two worker processes would; the test's clock stands in
for time passing, so what a lapsed lease allows is shown without waiting for it.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from bot.delivery import DeliveryError, Notification, Receipt
from bot.notify import enqueue
from bot.outbox import Dispatcher
from storage.db import transaction
from storage.models import OutboxMessage
from tests.conftest import Clock

LEASE = 10.0


class Recorder:
    """Records what it delivers; `before` runs inside a delivery (the far side being slow)."""

    def __init__(self, name: str, before: Callable[[Notification], None] | None = None) -> None:
        self.name = name
        self.before = before
        self.delivered: list[int] = []

    def deliver(self, notification: Notification) -> Receipt:
        if self.before is not None:
            self.before(notification)
        self.delivered.append(notification.id)
        return Receipt(external_ref=f"{self.name}-{notification.id}")


class Unreachable:
    def __init__(self) -> None:
        self.tries = 0

    def deliver(self, notification: Notification) -> Receipt:
        self.tries += 1
        raise DeliveryError("cannot connect to the relay", unreachable=True)


def _queue(sessions: sessionmaker[Session], count: int) -> list[int]:
    with transaction(sessions) as session:
        for i in range(count):
            enqueue(
                session,
                key=f"claims:{i}",
                channel="console",
                kind="referral_published",
                address=f"p{i}@example.org",
                staff_id=None,
                referral_id=None,
                payload={},
            )
        return list(session.scalars(select(OutboxMessage.id).order_by(OutboxMessage.id)))


def _rows(sessions: sessionmaker[Session]) -> list[OutboxMessage]:
    with transaction(sessions) as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def test_a_dispatcher_that_lost_its_lease_neither_marks_nor_sends_the_rest(
    sessions: sessionmaker[Session], clock: Clock
) -> None:
    ids = _queue(sessions, 5)
    second = Recorder("second")
    other = Dispatcher(sessions, {"console": second}, lease_seconds=LEASE, clock=clock)

    def stall(note: Notification) -> None:
        # The far side holds the first message past the lease (and no heartbeat runs): the
        # other dispatcher takes the whole batch over and delivers it meanwhile.
        if not first.delivered:
            clock.advance(seconds=LEASE + 1)
            assert other.run_once() == 5

    first = Recorder("first", before=stall)
    slow = Dispatcher(sessions, {"console": first}, lease_seconds=LEASE, clock=clock)
    assert slow.run_once() == 0  # its one send was taken over: not counted, not marked

    assert first.delivered == [ids[0]]  # the message in flight, and nothing after it
    assert second.delivered == ids
    rows = _rows(sessions)
    assert [(r.status, r.attempts, r.external_ref) for r in rows] == [
        ("sent", 1, f"second-{i}") for i in ids
    ]
    assert {r.claimed_by for r in rows} == {None}


def test_a_renewed_lease_keeps_the_rows_from_another_dispatcher(
    sessions: sessionmaker[Session], clock: Clock
) -> None:
    ids = _queue(sessions, 3)
    first = Recorder("first")
    holder = Dispatcher(sessions, {"console": first}, lease_seconds=LEASE, clock=clock)
    claim = holder.claim()
    second = Recorder("second")
    other = Dispatcher(sessions, {"console": second}, lease_seconds=LEASE, clock=clock)
    for _ in range(4):  # 24 s in all, far past one lease, with a heartbeat every 6 s
        clock.advance(seconds=6)
        assert holder.renew() == 3
        assert other.run_once() == 0
    assert holder.deliver(claim) == 3
    assert (first.delivered, second.delivered) == (ids, [])
    assert [r.external_ref for r in _rows(sessions)] == [f"first-{i}" for i in ids]


def test_a_renewal_after_the_lease_lapsed_does_not_win_the_rows_back(
    sessions: sessionmaker[Session], clock: Clock
) -> None:
    ids = _queue(sessions, 3)
    first = Recorder("first")
    late = Dispatcher(sessions, {"console": first}, lease_seconds=LEASE, clock=clock)
    claim = late.claim()
    clock.advance(seconds=LEASE + 1)  # its heartbeat stalled past the lease
    other = Dispatcher(sessions, {"console": Recorder("second")}, lease_seconds=LEASE, clock=clock)
    taken = other.claim()
    assert [n.id for n in taken.notes] == ids
    assert late.renew() == 0
    assert late.deliver(claim) == 0 and first.delivered == []
    assert other.deliver(taken) == 3


def test_a_dead_dispatchers_rows_are_taken_over_once_its_short_lease_lapses(
    sessions: sessionmaker[Session], clock: Clock
) -> None:
    ids = _queue(sessions, 4)
    dead = Dispatcher(sessions, {"console": Recorder("dead")}, clock=clock)
    dead.claim()  # then killed: no heartbeat renews its lease any more
    second = Recorder("second")
    other = Dispatcher(sessions, {"console": second}, clock=clock)
    clock.advance(seconds=1.5)
    assert other.run_once() == 0
    clock.advance(seconds=1)  # the default lease is 2 s
    assert other.run_once() == 4
    assert second.delivered == ids


def test_an_unreachable_far_side_pauses_the_channel_and_uses_no_attempts(
    sessions: sessionmaker[Session], clock: Clock
) -> None:
    _queue(sessions, 3)
    down = Unreachable()
    dispatcher = Dispatcher(sessions, {"console": down}, max_attempts=2, clock=clock)
    for _ in range(20):  # an outage far longer than max_attempts retries
        assert dispatcher.run_once() == 0
        clock.advance(seconds=6.1)  # past the capped pause (5 s, +20 % jitter at most)
    assert down.tries == 20  # one try per pause, not one per row
    rows = _rows(sessions)
    assert [(r.status, r.attempts) for r in rows] == [("pending", 0)] * 3
    assert {r.waiting_on for r in rows} == {"console"}


def test_a_success_makes_rows_waiting_on_that_channel_due_at_once(
    sessions: sessionmaker[Session], clock: Clock
) -> None:
    ids = _queue(sessions, 3)
    down = Dispatcher(sessions, {"console": Unreachable()}, clock=clock)
    assert down.run_once() == 0
    waiting = [r for r in _rows(sessions) if r.waiting_on == "console"]
    assert [r.id for r in waiting] == [ids[0]] and waiting[0].next_attempt_at > clock.now
    # Another worker reaches the relay (it is back): the waiting row is due now, not later.
    back = Recorder("back")
    other = Dispatcher(sessions, {"console": back}, clock=clock)
    assert other.run_once() == 2
    assert other.run_once() == 1
    assert sorted(back.delivered) == ids
    assert {(r.status, r.waiting_on) for r in _rows(sessions)} == {("sent", None)}


def test_the_sent_marks_connection_leaves_nothing_behind_in_the_pool(
    sessions: sessionmaker[Session], clock: Clock
) -> None:
    """The marks' connection runs with `synchronous_commit = off` and a prepared statement
    (PostgreSQL): other users of the pool, whose commits must be durable, never get it."""
    ids = _queue(sessions, 3)
    recorder = Recorder("only")
    dispatcher = Dispatcher(sessions, {"console": recorder}, lease_seconds=LEASE, clock=clock)
    assert dispatcher.run_once() == 3
    dispatcher._writer.reset()
    rows = _rows(sessions)
    assert [(r.id, r.status, r.external_ref) for r in rows] == [
        (i, "sent", f"only-{i}") for i in ids
    ]
    engine = sessions.kw["bind"]
    if engine.dialect.name != "postgresql":
        return
    # Every connection the pool holds, at once: none is the writer's.
    pooled = [engine.connect() for _ in range(max(1, engine.pool.checkedin()))]
    try:
        for connection in pooled:
            assert connection.scalar(text("SHOW synchronous_commit")) == "on"
            # psycopg prepares what a connection runs often ("_pg3_…"); the writer's are ours.
            mine = "SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'closeloop%'"
            assert connection.scalar(text(mine)) == 0
    finally:
        for connection in pooled:
            connection.close()
