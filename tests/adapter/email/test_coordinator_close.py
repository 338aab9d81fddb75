"""The primary coordinator closes a referral by replying to its notification email, once."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.domain.vocab import NeedOutcome, ReferralState
from bot.settings import Settings
from storage.db import transaction
from storage.models import AuditEvent, Referral
from tests.adapter.email.channel import EmailChannel, only
from tests.adapter.email.mail import plain_reply
from tests.conftest import Clock
from tests.network import COORD, DANA, GK_HOME
from tests.service.helpers import published

pytestmark = pytest.mark.dovecot


@pytest.fixture
def settings(loop_settings: Settings) -> Settings:
    return loop_settings


def closing_state(sessions: sessionmaker[Session], number: str) -> tuple[object, ...]:
    with transaction(sessions) as session:
        referral = session.scalar(select(Referral).where(Referral.number == number))
        assert referral is not None
        closes = session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.referral_id == referral.id, AuditEvent.action == "referral_closed")
        )
        return (
            referral.state,
            referral.outcome,
            referral.outcome_reason,
            referral.closed_at,
            closes,
        )


def test_the_coordinators_close_reply_closes_the_referral_once(
    channel: EmailChannel, network: sessionmaker[Session], clock: Clock
) -> None:
    number = published(network)
    notice = only(channel.deliver(), GK_HOME)
    assert channel.receive(plain_reply(notice, f"assign {DANA}", name="Grace Holt")) == 1
    coordinator_notice = only(channel.deliver(), COORD)

    clock.advance(hours=1)
    reply = plain_reply(coordinator_notice, "close partially met: moved away", name="Casey")
    assert channel.receive(reply) == 1
    closed = closing_state(network, number)
    state, outcome, reason, closed_at, closes = closed
    assert state == ReferralState.CLOSED
    assert outcome == NeedOutcome.PARTIALLY_MET
    assert reason == "moved away"
    assert closed_at is not None
    assert closes == 1
    channel.deliver()

    # The same reply delivered again (a resend, a second copy) changes nothing.
    clock.advance(hours=1)
    again = plain_reply(coordinator_notice, "close partially met: moved away", name="Casey")
    channel.receive(again)
    channel.deliver()
    assert closing_state(network, number) == closed
