"""Replies handled many at a time: one transaction per batch, yet each reply stands or falls alone."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.runtime import Runtime
from bot.settings import Settings
from handlers.email.inbox import ProcessorUnavailable
from handlers.email.listener import inbox_listener
from storage.db import transaction
from storage.models import AuditEvent, Referral
from tests.adapter.email.channel import EmailChannel
from tests.adapter.email.conftest import mail_settings
from tests.adapter.email.mail import message_id, plain_reply
from tests.conftest import Clock
from tests.network import BEN, GK_HOME
from tests.servers.dovecot import Mailbox
from tests.servers.smtp import ReceivedMessage, SmtpServer
from tests.service.helpers import published

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


def notices(channel: EmailChannel, count: int) -> list[tuple[str, ReceivedMessage]]:
    """`count` published referrals and the gatekeeper's notification about each."""
    numbers = [published(channel.runtime.sessions) for _ in range(count)]
    by_number = {
        _number_in(m.message["Subject"]): m for m in channel.deliver() if m.rcpt_tos == (GK_HOME,)
    }
    return [(number, by_number[number]) for number in numbers]


def _number_in(subject: str) -> str:
    found = re.search(r"R-\d{4}-\d{6}", subject)
    assert found is not None, subject
    return found.group()


def responses(sessions: sessionmaker[Session], number: str) -> list[str | None]:
    with transaction(sessions) as session:
        referral = session.scalar(select(Referral).where(Referral.number == number))
        assert referral is not None
        return [r.response for r in referral.recipients]


def audited(sessions: sessionmaker[Session], action: str) -> int:
    with transaction(sessions) as session:
        return (
            session.scalar(
                select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)
            )
            or 0
        )


def test_a_refused_or_repeated_reply_does_not_undo_the_others_of_its_batch(
    channel: EmailChannel, dovecot: Mailbox
) -> None:
    (first, first_notice), (second, second_notice), (third, third_notice) = notices(channel, 3)
    twice = message_id("heartland.example.org")
    batch = [
        plain_reply(first_notice, "accept", msgid=twice),
        plain_reply(second_notice, "accept", sender=BEN),  # not the notification's addressee
        plain_reply(first_notice, "accept", msgid=twice),  # the same message, delivered again
        plain_reply(second_notice, "assign nobody@heartland.example.org"),  # the use case refuses
        plain_reply(third_notice, "decline staffing"),
    ]
    woken: list[None] = []
    listener = inbox_listener(
        channel.runtime.sessions, channel.runtime.settings, wake=lambda: woken.append(None)
    )
    for raw in batch:
        dovecot.append(raw)

    assert listener.run_once() == 5
    listener.close()

    assert channel.inbound() == [
        ("processed", "applied"),
        ("rejected", "forged_from"),
        ("rejected", "not_applied"),
        ("processed", "applied"),
    ]
    sessions = channel.runtime.sessions
    assert responses(sessions, first) == ["accept"]
    assert responses(sessions, second) == [None]
    assert responses(sessions, third) == ["decline"]
    assert audited(sessions, "response_given") == 2
    assert channel.count("email_confirmation") == 2
    assert sorted(row.payload["reason"] for row in channel.outbox("email_error")) == [
        "forged_from",
        "not_applied",
    ]
    # One commit for the five, then one wake-up of the dispatcher.
    assert woken == [None]
    assert dovecot.list_folder("Processed") == [batch[0], batch[2], batch[4]]
    assert dovecot.list_folder("Rejected") == [batch[1], batch[3]]


def test_batches_of_the_listener_follow_the_inbox_order_across_their_boundaries(
    channel: EmailChannel, dovecot: Mailbox
) -> None:
    [(number, notice)] = notices(channel, 1)
    # Each reply replaces the response before it; batches of two cut them after the second.
    replies = [
        plain_reply(notice, "accept"),
        plain_reply(notice, "decline staffing"),
        plain_reply(notice, "accept"),
    ]
    listener = inbox_listener(channel.runtime.sessions, channel.runtime.settings)
    listener.batch_size = 2
    for raw in replies:
        dovecot.append(raw)

    assert listener.run_once() == 3
    listener.close()

    sessions = channel.runtime.sessions
    assert channel.inbound() == [("processed", "applied")] * 3
    assert responses(sessions, number) == ["accept"]
    assert (audited(sessions, "response_given"), audited(sessions, "response_edited")) == (1, 2)
    assert dovecot.list_folder("Processed") == replies


def test_mail_stays_in_the_inbox_while_the_database_cannot_be_reached(
    dovecot: Mailbox, tmp_path: Path
) -> None:
    unreachable = Settings(
        database_url=f"sqlite:///{tmp_path / 'no-such-directory' / 'closeloop.db'}",
        imap_url=dovecot.imap_url,
        secret_key="test-secret-for-reply-tokens-0123456789",
    )
    runtime = Runtime(unreachable)
    reply = (
        b"From: grace@heartland.example.org\r\nTo: replies@closeloop.example.org\r\n"
        b"Subject: Re: a referral\r\nMessage-ID: <r1@heartland.example.org>\r\n\r\naccept\r\n"
    )
    dovecot.append(reply)
    dovecot.append(reply.replace(b"<r1@", b"<r2@"))
    listener = inbox_listener(runtime.sessions, unreachable)

    with pytest.raises(ProcessorUnavailable):
        listener.run_once()
    listener.close()
    runtime.close()

    assert listener.handled == 0
    assert len(dovecot.list_folder("INBOX")) == 2
    assert dovecot.list_folder("Processed") == []
    assert dovecot.list_folder("Rejected") == []
