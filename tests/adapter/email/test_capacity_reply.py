"""A gatekeeper states their program's capacity by replying to the 30-day reminder, against real
servers: Dovecot (IMAP in), aiosmtpd (SMTP out)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from bot.domain.capacity import CapacityStatus
from bot.notify import enqueue
from bot.runtime import Runtime
from bot.settings import Settings
from storage.db import transaction
from storage.models import AuditEvent, Program, Staff
from tests.adapter.email.channel import EmailChannel, only
from tests.adapter.email.conftest import mail_settings
from tests.adapter.email.mail import plain_reply
from tests.conftest import Clock
from tests.network import GK_HOME
from tests.servers.dovecot import Mailbox
from tests.servers.smtp import SmtpServer

pytestmark = pytest.mark.dovecot


@pytest.fixture
def settings(engine: Engine, smtp_server: SmtpServer, dovecot: Mailbox) -> Settings:
    return mail_settings(engine, smtp_url=smtp_server.url(), imap_url=dovecot.imap_url)


@pytest.fixture
def channel(
    settings: Settings,
    clock: Clock,
    network: sessionmaker[Session],
    smtp_server: SmtpServer,
    dovecot: Mailbox,
) -> Iterator[EmailChannel]:
    wired = EmailChannel(Runtime(settings, clock=clock), dovecot, smtp_server.recorder)
    yield wired
    wired.close()


def capacity_of(sessions: sessionmaker[Session], key: str) -> tuple[object, ...]:
    with transaction(sessions) as session:
        program = session.scalar(select(Program).where(Program.key == key))
        assert program is not None
        return (program.capacity_status, program.capacity_waitlist)


def test_a_reply_to_the_reminder_states_the_programs_capacity_once(
    channel: EmailChannel, network: sessionmaker[Session]
) -> None:
    with transaction(network) as session:
        grace = session.scalar(select(Staff.id).where(Staff.email == GK_HOME))
        enqueue(
            session,
            key="thirty_day_reminder:capacity-test",
            channel="email",
            kind="thirty_day_reminder",
            address=GK_HOME,
            staff_id=grace,
            referral_id=None,
            payload={"recipient_name": "Grace Holt", "items": [], "count": 0},
        )
    reminder = only(channel.deliver(), GK_HOME)

    # Grace keeps two programs: the one she means must be named; then it is recorded once.
    unnamed = plain_reply(reminder, "capacity waitlist 12")
    named = plain_reply(reminder, "capacity waitlist 12 program=heartland-res")
    again = plain_reply(reminder, "Capacity: waitlist 12 program=heartland-res")
    assert channel.receive(unnamed, named, again) == 3

    assert channel.inbound() == [
        ("rejected", "not_applied"),
        ("processed", "applied"),
        ("processed", "unchanged"),
    ]
    assert capacity_of(network, "heartland-res") == (CapacityStatus.WAITLIST, 12)
    assert capacity_of(network, "heartland-day") == (None, None)
    with transaction(network) as session:
        audited = session.scalars(
            select(AuditEvent.channel).where(AuditEvent.action == "capacity_set")
        ).all()
    assert [str(c) for c in audited] == ["email"]

    answers = [m for m in channel.deliver() if m.rcpt_tos == (GK_HOME,)]
    bodies = sorted(
        m.message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
        for m in answers
    )
    assert len(bodies) == 3
    assert any("Recorded: Heartland Residential now has waitlist of 12" in b for b in bodies)
    assert any(
        "Nothing changed: Heartland Residential already has waitlist of 12" in b for b in bodies
    )
    assert any("Say which program's capacity this is." in b for b in bodies)
