"""A reply that reads two ways is asked about in one short email, and the "2" answering it is
applied: against the real Dovecot (IMAP in) and aiosmtpd (SMTP out)."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.domain.vocab import ResponseKind
from bot.settings import Settings
from bot.texts import render_email
from storage.db import transaction
from storage.models import Referral
from tests.adapter.email.channel import EmailChannel, only
from tests.adapter.email.mail import plain_reply
from tests.network import COORD, DANA, GK_HOME
from tests.servers.dovecot import Mailbox
from tests.servers.smtp import ReceivedMessage
from tests.service.helpers import published

pytestmark = pytest.mark.dovecot

AMBIGUOUS = "Yes, we would like to visit her first"


@pytest.fixture
def settings(loop_settings: Settings) -> Settings:
    return loop_settings


def plain(received: ReceivedMessage) -> str:
    body = received.message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


def assigned_to_dana(
    channel: EmailChannel, network: sessionmaker[Session]
) -> tuple[str, ReceivedMessage]:
    """A published referral, assigned by its gatekeeper's reply; Dana's notification."""
    number = published(network)
    notice = only(channel.deliver(), GK_HOME)
    assert channel.receive(plain_reply(notice, f"assign {DANA}", name="Grace Holt")) == 1
    return number, only(channel.deliver(), DANA)


def response_of(network: sessionmaker[Session], number: str) -> tuple[object, object, object]:
    with transaction(network) as session:
        referral = session.scalar(select(Referral).where(Referral.number == number))
        assert referral is not None
        [recipient] = [r for r in referral.recipients if r.active]
        return recipient.response, recipient.response_reason, recipient.response_comment


def test_an_ambiguous_reply_is_asked_about_and_the_answer_applied(
    channel: EmailChannel, network: sessionmaker[Session], dovecot: Mailbox
) -> None:
    number, notice = assigned_to_dana(channel, network)

    reply = plain_reply(notice, AMBIGUOUS, name="Dana Ruiz")
    assert channel.receive(reply) == 1

    # Nothing is recorded; Dana alone gets one short question, threaded under her reply.
    [question] = channel.deliver()
    assert list(question.rcpt_tos) == [DANA]
    assert question.message["Subject"] == (
        f"[closeloop] {number} did you mean accept or tentatively accept pending "
        "pre-placement visit?"
    )
    assert (
        question.message["In-Reply-To"]
        == reply.split(b"Message-ID: ")[1].split(b"\r\n")[0].decode()
    )
    text = plain(question)
    assert (
        "Did you mean accept, or tentatively accept pending pre-placement visit? Reply 1 or 2:"
        in text
    )
    assert (
        "  1 = accept\n" in text
        and "  2 = tentatively accept pending pre-placement visit\n" in text
    )
    assert response_of(network, number) == (None, None, None)
    assert channel.inbound()[-1] == ("processed", "asked")
    assert channel.count("response_given") == 0

    # Her "2", replied to the question, is applied with her own words as the comment.
    answer = plain_reply(question, "2", name="Dana Ruiz")
    assert channel.receive(answer) == 1
    sent = channel.deliver()
    assert sorted(m.rcpt_tos[0] for m in sent) == sorted([COORD, DANA])
    assert "tentatively accepted (pending pre-placement visit)" in plain(only(sent, COORD))
    assert response_of(network, number) == (
        ResponseKind.TENTATIVE,
        "pending pre-placement visit",
        AMBIGUOUS,
    )
    assert channel.inbound()[-1] == ("processed", "applied")
    assert dovecot.list_folder("INBOX") == []


def test_a_number_with_no_question_or_no_such_option_is_explained(
    channel: EmailChannel, network: sessionmaker[Session]
) -> None:
    number, notice = assigned_to_dana(channel, network)

    assert channel.receive(plain_reply(notice, "1", name="Dana Ruiz")) == 1
    [error] = channel.deliver()
    assert list(error.rcpt_tos) == [DANA]
    assert "there is no question of ours it could answer" in plain(error)

    assert channel.receive(plain_reply(notice, AMBIGUOUS, name="Dana Ruiz")) == 1
    [question] = channel.deliver()
    assert channel.receive(plain_reply(question, "3", name="Dana Ruiz")) == 1
    [error] = channel.deliver()
    assert "picks option 3, but the question had options 1 to 2" in plain(error)
    assert response_of(network, number) == (None, None, None)
    assert [reason for _, reason in channel.inbound()[-3:]] == [
        "no_question",
        "asked",
        "no_option",
    ]


def test_the_question_renders_as_text_and_html_with_the_reply_shown_as_typed() -> None:
    payload = {
        "number": "R-2026-000042",
        "options": [{"label": "accept"}, {"label": "decline (no vacancy)"}],
        "line": "We <could> take him but have no beds",
        "in_reply_to": None,
        "recipient_name": "Dana Ruiz",
    }

    texts = render_email("email_question", payload)

    assert texts.subject == "[closeloop] R-2026-000042 did you mean accept or decline (no vacancy)?"
    assert texts.text.startswith(
        "Hello Dana Ruiz,\n\nYour reply about R-2026-000042 can be read more than one way, so "
        'nothing was done yet.\nYour reply read: "We <could> take him but have no beds"\n\n'
        "Did you mean accept, or decline (no vacancy)? Reply 1 or 2:\n"
    )
    assert texts.html is not None
    assert "We &lt;could&gt; take him" in texts.html and "<could>" not in texts.html
    assert "<li>decline (no vacancy)</li>" in texts.html
