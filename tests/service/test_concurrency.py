"""Concurrency on a real database: two gatekeepers at once, two dispatchers on one outbox."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from bot.actors import actor_by_email
from bot.domain.vocab import Channel
from bot.errors import Conflict
from bot.notify import enqueue
from bot.outbox import Dispatcher
from bot.services import work
from storage.db import transaction
from storage.models import AuditEvent, OutboxMessage, Program, RoleGrant, Staff
from tests.conftest import Clock
from tests.network import DANA, GK_HOME, LEE
from tests.service.helpers import published
from tests.service.test_outbox import Recorder


def _together(*jobs: Callable[[], object]) -> list[object]:
    """Run the jobs in threads released at the same instant; collect results or exceptions."""
    barrier = threading.Barrier(len(jobs))
    results: list[object] = [None] * len(jobs)

    def run(i: int, job: Callable[[], object]) -> None:
        barrier.wait()
        try:
            results[i] = job()
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i, j)) for i, j in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


@pytest.mark.parametrize("attempt", range(3))
def test_two_gatekeepers_assigning_at_once_exactly_one_wins(
    network: sessionmaker[Session], engine: Engine, attempt: int
) -> None:
    number = published(network)
    # Two gatekeepers of the same program: Grace and a second one made for this test.
    with transaction(network) as s:
        program = s.scalar(select(Program).where(Program.key == "heartland-res"))
        assert program is not None
        second = s.scalar(select(Staff).where(Staff.email == LEE))
        assert second is not None
        s.add(RoleGrant(staff_id=second.id, role="gatekeeper", program_id=program.id))

    def assign(by: str, to: str) -> work.WorkResult:
        with transaction(network) as s:
            return work.assign_referral(
                s,
                actor=actor_by_email(s, by),
                number=number,
                provider=to,
                channel=Channel.SLACK,
                program="heartland-res",
            )

    results = _together(lambda: assign(GK_HOME, DANA), lambda: assign(LEE, LEE))
    winners = [r for r in results if isinstance(r, work.WorkResult)]
    losers = [r for r in results if isinstance(r, Conflict)]
    assert len(winners) == 1 and len(losers) == 1, results
    winner_name = "Dana Ruiz" if "Dana" in winners[0].summary else "Lee Park"
    assert (
        losers[0].message
        == f"{number} is already assigned to {winner_name} at Heartland Residential."
    )
    with transaction(network) as s:
        assigned = s.scalars(
            select(AuditEvent).where(AuditEvent.action == "referral_assigned")
        ).all()
        assert len(assigned) == 1


def test_two_dispatchers_deliver_every_row_exactly_once(
    network: sessionmaker[Session], clock: Clock
) -> None:
    with transaction(network) as s:
        for i in range(300):
            enqueue(
                s,
                key=f"load:{i}",
                channel="console",
                kind="referral_published",
                address=f"p{i}@example.org",
                staff_id=None,
                referral_id=None,
                payload={},
            )
    recorder = Recorder()
    dispatchers = [
        Dispatcher(network, {"console": recorder}, batch=7, clock=clock) for _ in range(2)
    ]

    def drain(d: Dispatcher) -> int:
        total = 0
        while True:
            n = d.run_once()
            if n == 0 and not d.claim_pending_exists():
                return total
            total += n

    counts = _together(lambda: drain(dispatchers[0]), lambda: drain(dispatchers[1]))
    assert sum(c for c in counts if isinstance(c, int)) == 300, counts
    keys = [n.key for n in recorder.delivered]
    assert len(keys) == 300 and len(set(keys)) == 300
    with transaction(network) as s:
        statuses = s.scalars(select(OutboxMessage.status)).all()
        assert statuses.count("sent") == 300
