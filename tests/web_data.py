"""Referrals of known ages and answers, for the report and web page tests.

On 2026-03-09 (the clock is left there) the grid and the reports see:

| referral | client        | programs (stage)                                   | age     |
|----------|---------------|----------------------------------------------------|---------|
| old      | Nguyen        | Heartland Residential (unassigned, overdue)        | 62 days |
| answered | Nguyen (2nd)  | Heartland Residential (declined: no vacancy),      | 62 days |
|          |               | Ozark Behaviour (accepted)                         |         |
| fresh    | Abara         | Heartland Residential (assigned to Dana)           | 0 days  |
| housing  | Zeller        | River Housing (tentative: pending funding approval)| 0 days  |
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bot.actors import actor_by_email
from bot.domain.vocab import Channel
from bot.services import referrals, work
from storage.db import transaction
from tests.conftest import Clock
from tests.network import COORD, DANA, GK_HOME, GK_OZARK, GK_RIVER
from tests.service.helpers import draft, new_client

PUBLISHED_OLD = datetime(2026, 1, 6, 15, 0, tzinfo=UTC)
TODAY = datetime(2026, 3, 9, 15, 0, tzinfo=UTC)


def _publish(session: Session, **fields: object) -> str:
    number = draft(session, COORD, **fields)
    referrals.publish_referral(
        session, actor=actor_by_email(session, COORD), number=number, channel=Channel.API
    )
    return number


def report_referrals(sessions: sessionmaker[Session], clock: Clock) -> dict[str, str]:
    """Build the table above; returns referral numbers by name."""
    clock.now = PUBLISHED_OLD
    with transaction(sessions) as session:
        nguyen = new_client(session, first_name="Mai", last_name="Nguyen")
        old = _publish(session, client_id=nguyen, needs=["RES"], counties=["Boone County"])
        other = new_client(session, first_name="Tuan", last_name="Nguyen")
        answered = _publish(session, client_id=other, needs=["RES", "BEH"], urgency="urgent")
    clock.now = TODAY
    with transaction(sessions) as session:
        fresh = _publish(
            session,
            client_id=new_client(session, first_name="Ada", last_name="Abara"),
            counties=["Cole County"],
        )
        housing = _publish(
            session,
            client_id=new_client(session, first_name="Otto", last_name="Zeller"),
            needs=["HSG"],
        )

    def act(email: str, run: Callable[[Session, Any], object]) -> None:
        with transaction(sessions) as session:
            run(session, actor_by_email(session, email))

    act(
        GK_HOME,
        lambda s, a: work.respond_to_referral(
            s,
            actor=a,
            number=answered,
            kind="decline",
            reason="no vacancy",
            program="heartland-res",
            channel=Channel.WEB,
        ),
    )
    act(
        GK_OZARK,
        lambda s, a: work.respond_to_referral(
            s, actor=a, number=answered, kind="accept", program="ozark-beh", channel=Channel.WEB
        ),
    )
    act(
        GK_HOME,
        lambda s, a: work.assign_referral(
            s, actor=a, number=fresh, provider=DANA, channel=Channel.WEB
        ),
    )
    act(
        GK_RIVER,
        lambda s, a: work.respond_to_referral(
            s,
            actor=a,
            number=housing,
            kind="tentative",
            reason="pending funding approval",
            comment="Board meets on the 20th",
            channel=Channel.WEB,
        ),
    )
    act(
        DANA,
        lambda s, a: work.add_note(
            s, actor=a, number=fresh, text="Called the family, visit on Friday", channel=Channel.WEB
        ),
    )
    return {"old": old, "answered": answered, "fresh": fresh, "housing": housing}
