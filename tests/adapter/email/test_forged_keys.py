"""A production-configured server refuses reply tokens made with the development key, and
accepts tokens signed with the previous key while a rotation is under way."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from bot.actors import staff_by_email
from bot.runtime import Runtime
from bot.settings import DEV_SECRET, Settings
from handlers.email.tokens import make_token, reply_address
from storage.db import transaction
from storage.models import Referral
from tests.adapter.email.channel import EmailChannel, only
from tests.adapter.email.conftest import REPLY_TO, mail_settings
from tests.adapter.email.mail import plain_reply
from tests.conftest import Clock
from tests.network import GK_HOME
from tests.servers.dovecot import Mailbox
from tests.servers.smtp import ReceivedMessage, SmtpServer
from tests.service.helpers import published

pytestmark = pytest.mark.dovecot

OLD_KEY = "the-key-before-rotation-7c2e9a4b1d6f3e8a5c0b"


@pytest.fixture
def settings(engine: Engine, smtp_server: SmtpServer, dovecot: Mailbox) -> Settings:
    base = mail_settings(engine, smtp_url=smtp_server.url(), imap_url=dovecot.imap_url)
    return base.model_copy(update={"secret_key_previous": OLD_KEY})


@pytest.fixture
def loop(
    settings: Settings,
    clock: Clock,
    network: sessionmaker[Session],
    smtp_server: SmtpServer,
    dovecot: Mailbox,
) -> Iterator[tuple[EmailChannel, ReceivedMessage, str]]:
    channel = EmailChannel(Runtime(settings, clock=clock), dovecot, smtp_server.recorder)
    number = published(network)
    notice = only(channel.deliver(), GK_HOME)
    yield channel, notice, number
    channel.close()


def _address(channel: EmailChannel, key: str, number: str, clock: Clock) -> str:
    with transaction(channel.runtime.sessions) as session:
        staff = staff_by_email(session, GK_HOME)
        referral = session.scalar(select(Referral).where(Referral.number == number))
        assert staff is not None and referral is not None
        token = make_token(
            key, staff_id=staff.id, subject_kind="r", subject_id=referral.id, issued=clock.now
        )
    return reply_address(REPLY_TO, token)


def _response(channel: EmailChannel, number: str) -> str | None:
    with transaction(channel.runtime.sessions) as session:
        referral = session.scalar(select(Referral).where(Referral.number == number))
        assert referral is not None
        [recipient] = referral.recipients
        return recipient.response


def test_a_reply_token_forged_with_the_development_key_is_refused(
    loop: tuple[EmailChannel, ReceivedMessage, str], clock: Clock
) -> None:
    channel, notice, number = loop
    forged = plain_reply(notice, "accept", to=_address(channel, DEV_SECRET, number, clock))

    assert channel.receive(forged) == 1

    assert channel.inbound() == [("rejected", "bad_token")]
    assert _response(channel, number) is None


def test_a_reply_token_signed_with_the_previous_key_is_applied(
    loop: tuple[EmailChannel, ReceivedMessage, str], clock: Clock
) -> None:
    channel, notice, number = loop
    rotated = plain_reply(notice, "accept", to=_address(channel, OLD_KEY, number, clock))

    assert channel.receive(rotated) == 1

    assert channel.inbound() == [("processed", "applied")]
    assert _response(channel, number) == "accept"
