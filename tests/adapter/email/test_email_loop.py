"""A referral worked by email only, against real servers: Dovecot (IMAP in), aiosmtpd (SMTP out)."""

from __future__ import annotations

import threading
import time
from email import message_from_bytes, policy

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.domain.vocab import ResponseKind
from bot.notify import enqueue
from bot.processes import start_worker
from bot.runtime import Runtime
from bot.settings import Settings
from handlers.email.tokens import TOKEN_LENGTH, check_token, token_from_address
from storage.db import transaction
from storage.models import AuditEvent, Client, OutboxMessage, Referral, Staff
from tests.adapter.email.channel import EmailChannel, only
from tests.adapter.email.conftest import AUTHSERV_ID, MAIL_FROM, SECRET
from tests.adapter.email.mail import outlook_html_reply, plain_reply
from tests.conftest import Clock
from tests.network import COORD, DANA, GK_HOME, STATEWIDE_COORD
from tests.servers.dovecot import Mailbox
from tests.servers.smtp import ReceivedMessage, SmtpServer
from tests.service.helpers import published

pytestmark = pytest.mark.dovecot


@pytest.fixture
def settings(loop_settings: Settings) -> Settings:
    return loop_settings


def staff_id(sessions: sessionmaker[Session], email: str) -> int:
    with transaction(sessions) as session:
        found = session.scalar(select(Staff.id).where(Staff.email == email))
        assert found is not None
        return found


def referral_of(sessions: sessionmaker[Session], number: str) -> tuple[int, str, str]:
    """(id, client first name, client last name): what must never appear in an email."""
    with transaction(sessions) as session:
        referral = session.scalar(select(Referral).where(Referral.number == number))
        assert referral is not None
        client = session.get(Client, referral.client_id)
        assert client is not None
        return referral.id, client.first_name, client.last_name


def texts(received: ReceivedMessage) -> tuple[str, str]:
    message = received.message
    plain = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert plain is not None and html is not None
    return plain.get_content(), html.get_content()


def test_a_referral_is_assigned_and_answered_by_email_alone(
    channel: EmailChannel, network: sessionmaker[Session], clock: Clock, dovecot: Mailbox
) -> None:
    number = published(network)
    referral_id, first_name, last_name = referral_of(network, number)
    grace, dana = staff_id(network, GK_HOME), staff_id(network, DANA)

    # 1. Publishing emails the gatekeeper (and the coordinators of the county).
    sent = channel.deliver()
    assert sorted(m.rcpt_tos[0] for m in sent) == sorted([GK_HOME, STATEWIDE_COORD])
    notice = only(sent, GK_HOME)
    headers = notice.message
    assert headers["From"] == MAIL_FROM
    assert headers["To"] == GK_HOME
    # One subject per referral (mail clients group its conversation); the event opens the body.
    assert headers["Subject"] == f"[closeloop] Referral {number}"
    assert headers["Auto-Submitted"] == "auto-generated"
    assert headers["In-Reply-To"] is None
    token = token_from_address(str(headers["Reply-To"]))
    assert token is not None and len(token) == TOKEN_LENGTH
    assert headers["Reply-To"] == f"replies+{token}@closeloop.example.org"
    assert len(f"replies+{token}") <= 64
    claims = check_token(SECRET, token, now=clock.now)
    assert (claims.staff_id, claims.subject_kind, claims.subject_id) == (grace, "r", referral_id)
    plain, html = texts(notice)
    assert plain.startswith(f"{number} new referral: Boone County\n\nHello Grace Holt,")
    assert f'font-weight:bold;">{number} new referral: Boone County</p>' in html
    for text in (plain, html, notice.raw.decode()):
        assert first_name not in text and last_name not in text
    assert (
        'To answer, reply with one line: "accept", "decline no vacancy: full until June", '
        '"provision funding: waiting on approval" or "assign <a provider\'s email>".'
    ) in plain
    assert f"<b>{number}</b>" in html
    with transaction(network) as session:
        row = session.scalar(
            select(OutboxMessage).where(
                OutboxMessage.kind == "referral_published", OutboxMessage.address == GK_HOME
            )
        )
        assert row is not None and row.status == "sent"
        assert row.external_ref == headers["Message-ID"]

    # 2. The gatekeeper replies "assign dana@…": the listener applies it.
    assign = plain_reply(notice, f"assign {DANA}", name="Grace Holt")
    assert channel.receive(assign) == 1
    assert dovecot.list_folder("Processed") == [assign]
    sent = channel.deliver()
    assert sorted(m.rcpt_tos[0] for m in sent) == sorted([DANA, COORD, GK_HOME])
    confirmation = only(sent, GK_HOME)
    assert confirmation.message["Subject"] == f"[closeloop] Referral {number}"
    assert texts(confirmation)[0].startswith(
        f"{number} recorded: your reply\n\n"
        "Hello Grace Holt,\n\n"
        f"Recorded: {number} assigned to Dana Ruiz at Heartland Residential.\n\n"
        f'Your reply read: "assign {DANA}"\n'
    )
    # Threaded under the person's reply, after the notification it answered.
    assert confirmation.message["References"].split() == [
        headers["Message-ID"],
        _header(assign, "Message-ID"),
    ]
    assert confirmation.message["In-Reply-To"] == _header(assign, "Message-ID")
    provider_notice = only(sent, DANA)
    assert provider_notice.message["Subject"] == f"[closeloop] Referral {number}"
    assert texts(provider_notice)[0].startswith(f"{number} assigned to Dana Ruiz\n\n")
    dana_token = token_from_address(str(provider_notice.message["Reply-To"]))
    assert dana_token is not None
    dana_claims = check_token(SECRET, dana_token, now=clock.now)
    assert (dana_claims.staff_id, dana_claims.subject_id) == (dana, referral_id)
    assert "status enrolled" in texts(provider_notice)[0]

    # 3. The provider answers from Outlook, in HTML, quoting the notification.
    clock.advance(hours=2)
    provision = outlook_html_reply(
        provider_notice, "provision funding: waiting on approval", name="Dana Ruiz"
    )
    assert channel.receive(provision) == 1
    sent = channel.deliver()
    assert sorted(m.rcpt_tos[0] for m in sent) == sorted([COORD, DANA])
    answered = only(sent, COORD)
    assert answered.message["Subject"] == f"[closeloop] Referral {number}"
    assert texts(answered)[0].startswith(
        f"{number} tentatively accepted by Heartland Residential\n\n"
    )
    coordinator_text = texts(answered)[0]
    assert "tentatively accepted (pending funding approval)" in coordinator_text
    assert "Comment from Dana Ruiz:\n  waiting on approval" in coordinator_text
    # The coordinator's emails about this referral form one thread.
    first_to_coordinator = channel.outbox("referral_assigned")
    coordinator_refs = [r.external_ref for r in first_to_coordinator if r.address == COORD]
    assert answered.message["In-Reply-To"] == coordinator_refs[0]
    assert texts(only(sent, DANA))[0].startswith(
        f"{number} recorded: your reply\n\nHello Dana Ruiz,\n\nRecorded: "
        f"{number} tentatively accepted (pending funding approval) for Heartland Residential."
    )

    # The database shows each step, through the email channel.
    with transaction(network) as session:
        events = session.execute(
            select(AuditEvent.action, AuditEvent.channel, Staff.email)
            .join(Staff, Staff.id == AuditEvent.actor_id)
            .where(AuditEvent.referral_id == referral_id)
            .where(AuditEvent.action.in_(["referral_assigned", "response_given"]))
            .order_by(AuditEvent.id)
        ).all()
        assert [tuple(e) for e in events] == [
            ("referral_assigned", "email", GK_HOME),
            ("response_given", "email", DANA),
        ]
        referral = session.scalar(select(Referral).where(Referral.id == referral_id))
        assert referral is not None
        [recipient] = [r for r in referral.recipients if r.active]
        assert recipient.assignee_id == dana
        assert recipient.response == ResponseKind.TENTATIVE
        assert recipient.response_reason == "pending funding approval"
        assert recipient.response_comment == "waiting on approval"
        assert [(v.channel, v.actor_id) for v in recipient.responses] == [("email", dana)]
        statuses = session.execute(
            select(OutboxMessage.kind, OutboxMessage.status)
            .where(OutboxMessage.kind == "email_confirmation")
            .order_by(OutboxMessage.id)
        ).all()
        assert [tuple(s) for s in statuses] == [
            ("email_confirmation", "sent"),
            ("email_confirmation", "sent"),
        ]
    assert channel.inbound() == [("processed", "applied"), ("processed", "applied")]
    assert dovecot.list_folder("Processed") == [assign, provision]
    assert dovecot.list_folder("INBOX") == []


def test_a_reply_to_a_reminder_names_the_referral(
    channel: EmailChannel, network: sessionmaker[Session]
) -> None:
    first, second, unlisted = published(network), published(network), published(network)
    channel.deliver()
    grace = staff_id(network, GK_HOME)

    with transaction(network) as session:
        items = [
            {
                "number": number,
                "where": "Boone County",
                "needs": "RES",
                "urgency": "routine",
                "age_days": 30,
                "program": "Heartland Residential",
                "assignee": None,
                "response": None,
                "reason": None,
            }
            for number in (first, second)
        ]
        enqueue(
            session,
            key="thirty_day_reminder:test",
            channel="email",
            kind="thirty_day_reminder",
            address=GK_HOME,
            staff_id=grace,
            referral_id=None,
            payload={"recipient_name": "Grace Holt", "items": items, "count": 2},
        )
    reminder = only(channel.deliver(), GK_HOME)
    assert "reminder: 2 open referrals" in reminder.message["Subject"]
    assert (
        'To answer one, reply with one line naming it: "accept R-2026-000042", '
        '"decline R-2026-000042 no vacancy: full until June"'
    ) in texts(reminder)[0]
    token = token_from_address(str(reminder.message["Reply-To"]))
    assert token is not None

    replies = [
        plain_reply(reminder, f"decline {second} no vacancy: full until June"),
        plain_reply(reminder, "accept"),
        plain_reply(reminder, f"accept {unlisted}"),
    ]
    assert channel.receive(*replies) == 3

    assert channel.inbound() == [
        ("processed", "applied"),
        ("rejected", "needs_number"),
        ("rejected", "wrong_referral"),
    ]
    with transaction(network) as session:
        declined = session.scalar(select(Referral).where(Referral.number == second))
        assert declined is not None
        assert [r.response for r in declined.recipients] == [ResponseKind.DECLINE]
        for number in (first, unlisted):
            untouched = session.scalar(select(Referral).where(Referral.number == number))
            assert untouched is not None
            assert [r.response for r in untouched.recipients] == [None]
    answers = channel.deliver()
    to_grace = [m for m in answers if m.rcpt_tos == (GK_HOME,)]
    # A reply about one referral joins that referral's conversation; one about none keeps its own.
    assert sorted((m.message["Subject"], texts(m)[0].splitlines()[0]) for m in to_grace) == [
        ("[closeloop] Referral " + second, f"{second} recorded: your reply"),
        ("[closeloop] your reply was not applied", "Hello Grace Holt,"),
        ("[closeloop] your reply was not applied", "Hello Grace Holt,"),
    ]


def test_the_listener_reconnects_after_a_drop_mid_idle_and_applies_each_reply_once(
    channel: EmailChannel, network: sessionmaker[Session], dovecot: Mailbox
) -> None:
    numbers = [published(network) for _ in range(3)]
    notices = {
        m.message["Subject"].split()[-1]: m for m in channel.deliver() if m.rcpt_tos == (GK_HOME,)
    }
    listener = channel.listener
    # No renewal within the waits below: each message must be announced (or found) at once.
    listener.idle_renew_seconds = 60
    listener.backoff_initial = 0.1
    # Generous: on a loaded machine a round trip slower than this would be a second drop.
    listener.socket_timeout = 30
    stop = threading.Event()
    thread = threading.Thread(target=listener.run_forever, args=(stop,), daemon=True)

    def seen() -> object:
        return {
            "connects": listener.connects,
            "handled": listener.handled,
            "inbound": channel.inbound(),
            "sessions": dovecot.session_count(),
        }

    thread.start()
    try:
        dovecot.append(plain_reply(notices[numbers[0]], "accept"))
        _wait(lambda: channel.inbound() == [("processed", "applied")], about=seen)
        # In IDLE, so the drop comes mid-IDLE whatever the machine's load.
        _wait(listener.idling.is_set, about=seen)
        # At least the listener's session (a test session just logged out may linger).
        assert dovecot.kill_sessions() >= 1
        dovecot.append(plain_reply(notices[numbers[1]], "accept"))
        dovecot.append(plain_reply(notices[numbers[2]], "decline staffing"))
        _wait(lambda: len(channel.inbound()) == 3, about=seen)
        # Back in IDLE: the folder was searched again after the last reply was filed, so a
        # second handling of any of them would have happened by now.
        _wait(listener.idling.is_set, about=seen)
    finally:
        stop.set()
        thread.join(timeout=10)

    assert listener.connects == 2
    assert channel.inbound() == [("processed", "applied")] * 3
    assert channel.count("email_confirmation") == 3
    assert channel.count("response_given") == 3
    assert len(dovecot.list_folder("Processed")) == 3
    assert dovecot.list_folder("INBOX") == []


def _header(raw: bytes, name: str) -> str:

    value = message_from_bytes(raw, policy=policy.default)[name]
    return str(value)


def _wait(condition: object, timeout: float = 30.0, *, about: object = None) -> None:
    """Wait for the listener thread; generous, since a loaded CI machine can be slow, and
    saying what was seen when it gives up."""
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            seen = about() if callable(about) else None
            raise AssertionError(f"condition not met in {timeout:.0f}s; seen: {seen}")
        time.sleep(0.05)


def test_authentication_results_from_our_own_server_refuse_a_dmarc_failure(
    channel: EmailChannel, network: sessionmaker[Session]
) -> None:
    number = published(network)
    notice = only(channel.deliver(), GK_HOME)
    stranger = plain_reply(
        notice,
        "accept",
        headers={"Authentication-Results": "evil.example.net; dmarc=fail header.from=x"},
    )
    forged = plain_reply(
        notice,
        "decline no vacancy",
        headers={"Authentication-Results": f"{AUTHSERV_ID}; spf=fail; dmarc=fail"},
    )

    assert channel.receive(forged, stranger) == 2

    assert channel.inbound() == [("rejected", "dmarc_fail"), ("processed", "applied")]
    with transaction(network) as session:
        referral = session.scalar(select(Referral).where(Referral.number == number))
        assert referral is not None
        assert [r.response for r in referral.recipients] == [ResponseKind.ACCEPT]
    assert channel.count("email_error") == 0


def test_the_worker_runs_the_dispatcher_and_the_inbox_listener(
    settings: Settings,
    clock: Clock,
    network: sessionmaker[Session],
    smtp_server: SmtpServer,
    dovecot: Mailbox,
) -> None:

    runtime = Runtime(settings, clock=clock)
    assert sorted(runtime.transports()) == ["console", "email", "fhir"]
    number = published(network)
    stop = threading.Event()
    threads = start_worker(runtime, stop)
    try:
        assert [t.name for t in threads] == ["outbox", "outbox-email-1", "inbox"]
        notices = smtp_server.recorder.wait_for(2)
        notice = only(notices, GK_HOME)
        dovecot.append(plain_reply(notice, "accept"))
        received = smtp_server.recorder.wait_for(4, timeout=40)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
        runtime.close()

    assert [m.message["Subject"] for m in received[2:]] == [f"[closeloop] Referral {number}"] * 2
    assert sorted(texts(m)[0].splitlines()[0] for m in received[2:]) == sorted(
        [f"{number} recorded: your reply", f"{number} accepted by Heartland Residential"]
    )
    assert len(dovecot.list_folder("Processed")) == 1
