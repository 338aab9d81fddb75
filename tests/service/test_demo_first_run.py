"""The first run: the demo network with referrals at every stage and age, on the real database."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.actors import actor_by_email
from bot.context import today
from bot.demo.referrals import COORDINATOR, DEMO_HISTORY_DAYS, seed_demo_referrals
from bot.demo.seed import SIGN_IN_AS, seed_demo, welcome
from bot.runtime import Runtime
from bot.services.grid import GridQuery, search
from bot.settings import Settings
from storage.db import transaction
from storage.models import OutboxMessage, Referral, Region, Staff
from tests.conftest import Clock


def _seeded(sessions: sessionmaker[Session], settings: Settings, clock: Clock) -> list[str]:
    with transaction(sessions) as session:
        seed_demo(session, today(session) - timedelta(days=DEMO_HISTORY_DAYS))
    runtime = Runtime(settings, clock=clock)
    try:
        return [number for number, _stage in seed_demo_referrals(runtime)]
    finally:
        runtime.close()


def test_the_demo_has_a_referral_at_every_stage_and_age(
    sessions: sessionmaker[Session], settings: Settings, clock: Clock
) -> None:
    numbers = _seeded(sessions, settings, clock)
    assert len(numbers) == 12
    with transaction(sessions) as session:
        casey = actor_by_email(session, COORDINATOR)
        rows = search(session, actor=casey, query=GridQuery(scope="all", limit=200)).rows
        states = dict(
            session.execute(select(Referral.state, func.count()).group_by(Referral.state)).all()
        )
        outcomes = sorted(
            str(o)
            for o in session.scalars(select(Referral.outcome).where(Referral.outcome.is_not(None)))
        )
        digest_channels = session.scalars(
            select(Region.digest_channel).where(Region.digest_channel.is_not(None))
        ).all()
        inactive = session.scalars(select(Staff.email).where(Staff.active.is_(False))).all()
        unsent = session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status != "sent")
        )
    assert {str(k): v for k, v in states.items()} == {
        "open": 8,
        "pending_placement": 1,
        "closed": 3,
    }
    assert outcomes == ["fully met", "not met", "partially met"]
    responses = {r.response for r in rows}
    assert {"accept", "tentative", "decline", None} <= responses
    assert any(r.assignee and r.response is None for r in rows), "one assigned, not answered"
    assert any(r.overdue and not r.aging for r in rows), "one overdue"
    assert any(r.aging for r in rows), "one over 60 days"
    assert any(r.age_days == 0 for r in rows), "one new today"
    # Closed referrals stop ageing at their close and carry no flags: the partially met one was
    # published 95 days ago and closed 45 days later.
    closed = [r for r in rows if r.state == "closed"]
    assert closed and not any(r.overdue or r.aging for r in closed)
    assert max(r.age_days or 0 for r in closed) == 45
    assert digest_channels == ["C0DEMOCENTRAL"]
    # Every demo address can sign in: nobody lost access to the idle rule while back-dating.
    assert inactive == []
    # The history's notifications are the past: nothing waits to flood the first run's console.
    assert unsent == 0


def test_the_welcome_names_the_url_an_address_per_role_and_where_the_link_appears(
    sessions: sessionmaker[Session], settings: Settings, clock: Clock
) -> None:
    with transaction(sessions) as session:
        assert welcome(session, settings) is None
        seed_demo(session, today(session))
        text = welcome(session, settings.model_copy(update={"public_url": "http://127.0.0.1:9"}))
    assert text is not None
    assert "closeloop is running: open http://127.0.0.1:9" in text
    for role, email in SIGN_IN_AS:
        assert f"{role:<17} {email}" in text
    assert "The sign-in link is printed here, in this terminal" in text
