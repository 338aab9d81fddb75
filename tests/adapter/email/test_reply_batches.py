"""Replies handled many at a time: one transaction per batch, yet each reply stands or falls alone."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.actors import actor_by_email
from bot.domain.vocab import Channel
from bot.runtime import Runtime
from bot.services import work
from bot.settings import Settings
from handlers.email.inbox import ProcessorUnavailable
from handlers.email.listener import inbox_listener
from storage.db import transaction
from storage.models import AuditEvent, Referral, Staff
from tests.adapter.email.channel import EmailChannel
from tests.adapter.email.mail import message_id, plain_reply
from tests.network import BEN, DANA, GK_HOME
from tests.servers.dovecot import Mailbox
from tests.servers.smtp import ReceivedMessage
from tests.service.helpers import published

pytestmark = pytest.mark.dovecot


@pytest.fixture
def settings(loop_settings: Settings) -> Settings:
    return loop_settings


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


def savepoints_during(channel: EmailChannel) -> list[str]:
    """Collects the SAVEPOINT statements the engine runs from now on."""
    seen: list[str] = []

    def note(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
        if statement.lstrip().upper().startswith("SAVEPOINT"):
            seen.append(statement)

    event.listen(channel.runtime.engine, "before_cursor_execute", note)
    return seen


def test_a_batch_whose_refusals_wrote_nothing_is_applied_without_savepoints(
    channel: EmailChannel, dovecot: Mailbox
) -> None:
    (first, first_notice), (second, second_notice) = notices(channel, 2)
    batch = [
        plain_reply(first_notice, "accept"),
        plain_reply(second_notice, "accept", sender=BEN),  # refused before anything is written
        plain_reply(second_notice, "decline staffing"),
    ]
    for raw in batch:
        dovecot.append(raw)
    savepoints = savepoints_during(channel)
    listener = inbox_listener(channel.runtime.sessions, channel.runtime.settings)

    assert listener.run_once() == 3
    listener.close()

    assert savepoints == []
    assert channel.inbound() == [
        ("processed", "applied"),
        ("rejected", "forged_from"),
        ("processed", "applied"),
    ]
    sessions = channel.runtime.sessions
    assert (responses(sessions, first), responses(sessions, second)) == (["accept"], ["decline"])
    assert channel.count("email_confirmation") == 2
    assert [row.payload["reason"] for row in channel.outbox("email_error")] == ["forged_from"]
    assert dovecot.list_folder("Processed") == [batch[0], batch[2]]


def test_a_refusal_after_a_write_sends_the_batch_again_with_a_savepoint_per_reply(
    channel: EmailChannel, dovecot: Mailbox
) -> None:
    (first, first_notice), (second, _) = notices(channel, 2)
    sessions = channel.runtime.sessions
    with transaction(sessions) as session:
        work.assign_referral(
            session,
            actor=actor_by_email(session, GK_HOME),
            number=second,
            provider=DANA,
            channel=Channel.API,
        )
        grace = session.scalar(select(Staff).where(Staff.email == GK_HOME))
        assert grace is not None
        grace.last_active_at = None
    [assigned] = [m for m in channel.deliver() if m.rcpt_tos == (DANA,)]
    batch = [
        # Grace's reply first marks her active (a write), then the use case refuses it.
        plain_reply(first_notice, "assign nobody@heartland.example.org"),
        plain_reply(assigned, "accept", sender=DANA),
    ]
    for raw in batch:
        dovecot.append(raw)
    savepoints = savepoints_during(channel)
    listener = inbox_listener(sessions, channel.runtime.settings)

    assert listener.run_once() == 2
    listener.close()

    # Tried without savepoints, rolled back whole, then applied with one per reply (and one
    # for writing down the refusal).
    assert len(savepoints) == 3
    assert channel.inbound() == [("rejected", "not_applied"), ("processed", "applied")]
    assert (responses(sessions, first), responses(sessions, second)) == ([None], ["accept"])
    with transaction(sessions) as session:
        grace = session.scalar(select(Staff).where(Staff.email == GK_HOME))
        assert grace is not None
        # The refused reply's write went back with it, as if the reply had never come.
        assert grace.last_active_at is None
    assert channel.count("email_confirmation") == 1
    assert [row.payload["reason"] for row in channel.outbox("email_error")] == ["not_applied"]
    assert dovecot.list_folder("Rejected") == [batch[0]]


def test_each_notification_of_a_batch_is_keyed_by_its_own_audit_event(
    channel: EmailChannel, dovecot: Mailbox
) -> None:
    # The batch flushes its audit events once, at its end: the notifications' keys, which name
    # the event, are written out then (bot.notify.EventKey), each with its own event's id.
    replied = notices(channel, 3)
    for (_number, notice), command in zip(
        replied, ["accept", "decline staffing", "accept"], strict=True
    ):
        dovecot.append(plain_reply(notice, command))
    listener = inbox_listener(channel.runtime.sessions, channel.runtime.settings)

    assert listener.run_once() == 3
    listener.close()

    with transaction(channel.runtime.sessions) as session:
        events = {
            referral_id: event_id
            for event_id, referral_id in session.execute(
                select(AuditEvent.id, AuditEvent.referral_id).where(
                    AuditEvent.action == "response_given"
                )
            )
        }
        numbers = dict(session.execute(select(Referral.id, Referral.number)).all())
    rows = channel.outbox("response_given")
    assert sorted(numbers[row.referral_id] for row in rows) == sorted(n for n, _ in replied)
    for row in rows:
        assert row.key == f"response_given:e{events[row.referral_id]}:s{row.staff_id}:email"
