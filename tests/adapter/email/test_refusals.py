"""Replies that must not be applied: each is filed in Rejected, changes nothing, and is answered
only when a person can act on the answer (never machine mail, at most once a day per mistake)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from bot.runtime import Runtime
from bot.settings import Settings
from handlers.email.tokens import token_from_address
from storage.db import transaction
from storage.models import OutboxMessage, Referral, Staff
from tests.adapter.email.channel import EmailChannel, only
from tests.adapter.email.conftest import REPLY_TO, mail_settings
from tests.adapter.email.mail import message_id, plain_reply, with_attachment
from tests.conftest import Clock
from tests.network import ADMIN, BEN, DANA, GK_HOME, LEE
from tests.servers.dovecot import Mailbox
from tests.servers.smtp import ReceivedMessage, SmtpServer
from tests.service.helpers import published

pytestmark = pytest.mark.dovecot

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "email" / "replies"
# What a refused reply may leave behind: its own record, and the answer (when there is one).
BOOKKEEPING = {"inbound_emails", "outbox"}


@pytest.fixture
def settings(engine: Engine, smtp_server: SmtpServer, dovecot: Mailbox) -> Settings:
    return mail_settings(engine, smtp_url=smtp_server.url(), imap_url=dovecot.imap_url)


@dataclass
class World:
    channel: EmailChannel
    sessions: sessionmaker[Session]
    number: str
    notice: ReceivedMessage  # the gatekeeper's notification about `number`

    def unchanged_since(
        self, before: dict[str, int], *, also: frozenset[str] = frozenset()
    ) -> None:
        ignored = BOOKKEEPING | also
        after = self.channel.counts()
        assert {k: v for k, v in after.items() if k not in ignored} == {
            k: v for k, v in before.items() if k not in ignored
        }
        with transaction(self.sessions) as session:
            referral = session.scalar(select(Referral).where(Referral.number == self.number))
            assert referral is not None
            assert [(r.assignee_id, r.response) for r in referral.recipients] == [(None, None)]

    def errors(self) -> list[tuple[str, str]]:
        """(address, reason) of every error answer written."""
        return [(row.address, row.payload["reason"]) for row in self.channel.outbox("email_error")]


@pytest.fixture
def world(
    settings: Settings,
    clock: Clock,
    network: sessionmaker[Session],
    smtp_server: SmtpServer,
    dovecot: Mailbox,
) -> Iterator[World]:
    channel = EmailChannel(Runtime(settings, clock=clock), dovecot, smtp_server.recorder)
    number = published(network)
    notice = only(channel.deliver(), GK_HOME)
    yield World(channel, network, number, notice)
    channel.close()


def test_a_forged_from_is_refused_and_only_a_known_sender_is_answered(
    world: World, dovecot: Mailbox
) -> None:
    before = world.channel.counts()
    colleague = plain_reply(world.notice, f"assign {DANA}", sender=BEN)
    stranger = plain_reply(world.notice, f"assign {DANA}", sender="mallory@evil.example.net")

    assert world.channel.receive(colleague, stranger) == 2

    world.unchanged_since(before)
    assert world.channel.inbound() == [("rejected", "forged_from"), ("rejected", "forged_from")]
    assert world.errors() == [(BEN, "forged_from")]
    assert dovecot.list_folder("Rejected") == [colleague, stranger]
    [answer] = world.channel.deliver()
    assert answer.rcpt_tos == (BEN,)
    body = answer.message.get_body(preferencelist=("plain",))
    assert body is not None
    assert (
        "Why: The notification you replied to was sent to someone else, so we cannot act on it "
        "for you.\nReply to your own notification, from the address it was sent to, or use Slack."
    ) in body.get_content()
    assert f'Your reply read: "assign {DANA}"' in body.get_content()


def test_the_from_address_is_compared_without_case_or_display_name(world: World) -> None:
    reply = plain_reply(world.notice, "accept", sender=GK_HOME.upper(), name="Holt, Grace")

    assert world.channel.receive(reply) == 1

    assert world.channel.inbound() == [("processed", "applied")]


@pytest.mark.parametrize("damage", ["altered", "cut", "missing"])
def test_a_bad_token_is_refused_and_answered(world: World, dovecot: Mailbox, damage: str) -> None:
    token = token_from_address(str(world.notice.message["Reply-To"]))
    assert token is not None
    local, _, domain = REPLY_TO.partition("@")
    altered = token[:10] + ("a" if token[10] != "a" else "b") + token[11:]
    to = {
        "altered": f"{local}+{altered}@{domain}",
        "cut": f"{local}+{token[:30]}@{domain}",
        "missing": REPLY_TO,
    }[damage]
    before = world.channel.counts()

    assert world.channel.receive(plain_reply(world.notice, "accept", to=to)) == 1

    world.unchanged_since(before)
    reason = "no_token" if damage == "missing" else "bad_token"
    assert world.channel.inbound() == [("rejected", reason)]
    assert world.errors() == [(GK_HOME, reason)]
    assert len(dovecot.list_folder("Rejected")) == 1


def test_an_expired_token_is_refused(world: World, clock: Clock) -> None:
    clock.advance(days=62)
    before = world.channel.counts()

    assert world.channel.receive(plain_reply(world.notice, "accept")) == 1

    world.unchanged_since(before)
    assert world.channel.inbound() == [("rejected", "expired_token")]
    assert world.errors() == [(GK_HOME, "expired_token")]
    [answer] = world.channel.deliver()
    body = answer.message.get_body(preferencelist=("plain",))
    assert body is not None
    assert "more than 60 days old" in body.get_content()


def test_a_token_for_another_referral_is_refused(world: World) -> None:
    other = published(world.sessions)
    world.channel.deliver()
    before = world.channel.counts()

    assert world.channel.receive(plain_reply(world.notice, f"accept {other}")) == 1

    world.unchanged_since(before)
    with transaction(world.sessions) as session:
        referral = session.scalar(select(Referral).where(Referral.number == other))
        assert referral is not None
        assert [r.response for r in referral.recipients] == [None]
    assert world.channel.inbound() == [("rejected", "wrong_referral")]
    assert world.errors() == [(GK_HOME, "wrong_referral")]


def test_a_replayed_message_is_filed_as_before_and_nothing_happens_twice(
    world: World, dovecot: Mailbox
) -> None:
    msgid = message_id("heartland.example.org")
    reply = plain_reply(world.notice, f"assign {DANA}", msgid=msgid)
    bad = plain_reply(world.notice, "maybe later", msgid=message_id())

    assert world.channel.receive(reply, bad) == 2
    after_first = world.channel.counts()
    assert world.channel.receive(reply, bad) == 2

    assert world.channel.counts() == after_first
    assert world.channel.inbound() == [("processed", "applied"), ("rejected", "no_command")]
    assert world.channel.count("email_confirmation") == 1
    assert world.channel.count("referral_assigned") == 2  # the provider and the coordinator
    assert dovecot.list_folder("Processed") == [reply, reply]
    assert dovecot.list_folder("Rejected") == [bad, bad]


@pytest.mark.parametrize(
    "fixture", ["auto_out_of_office.eml", "auto_vacation_german_subject.eml", "auto_list_loop.eml"]
)
def test_auto_replies_are_never_applied_or_answered(world: World, fixture: str) -> None:
    # The corpus's auto-replies, sent from a staff address to a valid reply address.
    token = token_from_address(str(world.notice.message["Reply-To"]))
    raw = (FIXTURES / fixture).read_bytes()
    raw = raw.replace(b"maria.lopez@riverbend-supports.org", GK_HOME.encode())
    for line in raw.splitlines():
        if b"replies+" in line:
            old = line.split(b"replies+")[1].split(b"@")[0]
            raw = raw.replace(old, (token or "").encode())
    before = world.channel.counts()

    assert world.channel.receive(raw) == 1

    world.unchanged_since(before)
    assert world.channel.inbound() == [("rejected", "auto_reply")]
    assert world.channel.counts()["outbox"] == before["outbox"]


def test_an_out_of_office_reply_to_a_confirmation_does_not_loop(world: World) -> None:
    assert world.channel.receive(plain_reply(world.notice, "accept")) == 1
    [confirmation] = [m for m in world.channel.deliver() if m.rcpt_tos == (GK_HOME,)]
    ooo = plain_reply(
        confirmation,
        "I am out of the office until Monday.",
        headers={"Auto-Submitted": "auto-replied"},
    )
    outbox = world.channel.counts()["outbox"]

    assert world.channel.receive(ooo) == 1

    assert world.channel.inbound() == [("processed", "applied"), ("rejected", "auto_reply")]
    assert world.channel.counts()["outbox"] == outbox
    assert world.channel.deliver() == []


def test_a_bounce_marks_the_address_and_tells_an_admin_once(world: World) -> None:
    raw = (FIXTURES / "bounce_dsn.eml").read_bytes()
    raw = raw.replace(b"Former.Staff@riverbend-supports.org", DANA.upper().encode())
    again = raw.replace(b"<dsn-1@", b"<dsn-2@")
    before = world.channel.counts()

    assert world.channel.receive(raw, again) == 2

    # The mark is audited (no actor: the mail system reported it); nothing else changed.
    world.unchanged_since(before, also=frozenset({"audit_events"}))
    assert world.channel.counts()["audit_events"] == before["audit_events"] + 1
    assert world.channel.inbound() == [("rejected", "bounce"), ("rejected", "bounce")]
    with transaction(world.sessions) as session:
        bouncing = session.scalars(select(Staff.email).where(Staff.email_bouncing.is_(True)))
        assert list(bouncing) == [DANA]
    assert [(row.address, row.kind) for row in world.channel.outbox("email_bouncing")] == [
        (ADMIN, "email_bouncing")
    ]
    [alert] = world.channel.deliver()
    assert alert.rcpt_tos == (ADMIN,)
    assert alert.message["Subject"] == (
        "[closeloop] email to Dana Ruiz is bouncing; notifications by email stopped"
    )
    assert world.errors() == []
    # Dana is no longer emailed: assigning her writes no email row for her.
    assert world.channel.receive(plain_reply(world.notice, f"assign {DANA}")) == 1
    with transaction(world.sessions) as session:
        to_dana = session.scalars(select(OutboxMessage).where(OutboxMessage.address == DANA))
        assert list(to_dana) == []


@pytest.mark.parametrize(
    "raw",
    [
        b"\x00\x01\x02 not an email at all \xff\xfe",
        b"From: nobody\r\n\r\n",
        (FIXTURES / "garbage_broken_mime.eml").read_bytes(),
    ],
    ids=["binary", "no-headers", "broken-mime"],
)
def test_garbage_is_rejected_without_an_answer(world: World, raw: bytes) -> None:
    before = world.channel.counts()

    assert world.channel.receive(raw) == 1

    world.unchanged_since(before)
    assert [outcome for outcome, _ in world.channel.inbound()] == ["rejected"]
    assert world.errors() == []


def test_a_reply_with_a_ten_megabyte_attachment_is_refused(world: World, dovecot: Mailbox) -> None:
    big = with_attachment(plain_reply(world.notice, "accept"), 10 * 1024 * 1024)
    assert len(big) > 10_000_000
    before = world.channel.counts()

    assert world.channel.receive(big) == 1

    world.unchanged_since(before)
    assert world.channel.inbound() == [("rejected", "too_large")]
    assert world.errors() == [(GK_HOME, "too_large")]
    assert len(dovecot.list_folder("Rejected")) == 1


def test_our_own_mail_is_dropped_silently(world: World) -> None:
    own = plain_reply(world.notice, "accept", sender="notify@closeloop.example.org")
    before = world.channel.counts()

    assert world.channel.receive(own) == 1

    world.unchanged_since(before)
    assert world.channel.inbound() == [("rejected", "own_mail")]
    assert world.channel.counts()["outbox"] == before["outbox"]


def test_at_most_one_error_answer_per_sender_and_kind_of_error_a_day(
    world: World, clock: Clock
) -> None:
    mistakes = [plain_reply(world.notice, f"maybe {n}") for n in range(3)]
    forged = plain_reply(world.notice, "accept", sender=LEE)

    assert world.channel.receive(*mistakes, forged) == 4
    clock.advance(days=1)
    assert world.channel.receive(plain_reply(world.notice, "perhaps")) == 1

    assert [reason for _, reason in world.channel.inbound()] == ["no_command"] * 3 + [
        "forged_from",
        "no_command",
    ]
    assert world.errors() == [
        (GK_HOME, "no_command"),
        (LEE, "forged_from"),
        (GK_HOME, "no_command"),
    ]
    answers = world.channel.deliver()
    assert len(answers) == 3
    first = answers[0].message.get_body(preferencelist=("plain",))
    assert first is not None
    assert (
        'Your reply read: "maybe 0"\nWhy: I could not read a command in the first line of your '
        'reply ("maybe 0").'
    ) in first.get_content()


def test_a_command_the_use_case_refuses_is_answered_with_its_reason(world: World) -> None:
    before = world.channel.counts()

    assert world.channel.receive(plain_reply(world.notice, f"assign {BEN}")) == 1

    world.unchanged_since(before)
    assert world.channel.inbound() == [("rejected", "not_applied")]
    [answer] = world.channel.deliver()
    body = answer.message.get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content()
    assert f"I understood: assign {BEN}\n" in text
    assert "Why: Ben Carter is not a provider of Heartland Residential.\n" in text
    assert answer.message["Subject"] == f"[closeloop] Referral {world.number}"
    assert text.startswith(f"{world.number} your reply was not applied\n\n")
