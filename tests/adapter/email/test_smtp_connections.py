"""A worker sending on two SMTP connections at once: each row goes out once, on either of them."""

from __future__ import annotations

import threading
from collections import Counter

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from bot.notify import enqueue
from bot.processes import start_worker
from bot.runtime import Runtime
from storage.db import transaction
from storage.models import OutboxMessage
from tests.adapter.email.conftest import mail_settings
from tests.conftest import Clock
from tests.servers.smtp import SmtpServer

ROWS = 45


def reminders(sessions: sessionmaker[Session], count: int) -> None:
    """`count` reminder emails to as many people who are not staff (no reply address)."""
    item = {
        "number": "R-2026-000042",
        "where": "Boone County",
        "needs": "RES",
        "urgency": "routine",
        "age_days": 30,
        "program": "Heartland Residential",
        "assignee": None,
        "response": None,
        "reason": None,
    }
    with transaction(sessions) as session:
        for i in range(count):
            enqueue(
                session,
                key=f"thirty_day_reminder:connections:{i}",
                channel="email",
                kind="thirty_day_reminder",
                address=f"person{i}@agency.example.org",
                staff_id=None,
                referral_id=None,
                payload={"recipient_name": f"Person {i}", "items": [item], "count": 1},
            )


def test_a_worker_sends_on_two_connections_and_each_row_once(
    engine: Engine, clock: Clock, network: sessionmaker[Session], smtp_server: SmtpServer
) -> None:
    settings = mail_settings(engine, smtp_url=smtp_server.url())
    assert settings.smtp_connections == 2
    reminders(network, ROWS)
    runtime = Runtime(settings, clock=clock)
    first, second = runtime.dispatchers()
    assert sorted(first.transports) == ["console", "email", "fhir"]
    assert list(second.transports) == ["email"]
    assert second.transports["email"] is not first.transports["email"]

    # One claim each, one after the other: each sends on a connection of its own.
    assert first.run_once() == 10
    assert second.run_once() == 10
    assert smtp_server.recorder.connections == 2

    # The rest with both running at once, as `closeloop worker` runs them.
    stop = threading.Event()
    threads = start_worker(runtime, stop)
    try:
        assert [thread.name for thread in threads] == ["outbox", "outbox-email-1"]
        received = smtp_server.recorder.wait_for(ROWS, timeout=30)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
        runtime.close()

    ids = Counter(str(message.message["Message-ID"]) for message in received)
    assert len(smtp_server.recorder.messages) == ROWS
    assert len(ids) == ROWS and set(ids.values()) == {1}
    assert sorted(m.rcpt_tos[0] for m in received) == sorted(
        f"person{i}@agency.example.org" for i in range(ROWS)
    )
    with transaction(network) as session:
        rows = session.execute(
            select(
                OutboxMessage.status, OutboxMessage.external_ref, OutboxMessage.claimed_by
            ).where(OutboxMessage.channel == "email")
        ).all()
    assert len(rows) == ROWS
    assert {status for status, _, _ in rows} == {"sent"}
    assert {claimed for _, _, claimed in rows} == {None}
    assert {ref for _, ref, _ in rows} == set(ids)
