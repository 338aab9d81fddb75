"""Demo referrals at every stage and age, made through the real use cases at back-dated times."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from bot.actors import actor_by_email
from bot.domain.vocab import Channel
from bot.jobs import catch_up
from bot.runtime import Runtime
from bot.services import clients, referrals, work
from storage.db import make_session_factory, transaction
from storage.models import OutboxMessage

COORDINATOR = "casey.morgan@dmh-regional.example.org"
GATEKEEPER = "grace@heartland.example.org"
PROVIDER = "dana@heartland.example.org"
OZARK_GATEKEEPER = "olivia@ozark.example.org"
OZARK_PROVIDER = "ben@ozark.example.org"
RESIDENTIAL = "heartland-residential"
DAY = "heartland-day"
# Every program a demo referral may reach (the network requires consent for each).
CONSENTED = (RESIDENTIAL, DAY, "ozark-behaviour", "ozark-respite")
# The oldest story is 95 days old: the demo's agreements are signed before it.
DEMO_HISTORY_DAYS = 120


@dataclass(frozen=True)
class Story:
    """One demo referral: who it is for, what it asks, and what happened to it (days ago)."""

    stage: str
    first_name: str
    last_name: str
    needs: tuple[str, ...]
    published_days_ago: int
    steps: tuple[tuple[int, str, dict[str, Any]], ...] = ()
    county: str = "Boone County"


# (days ago, step, arguments). Stages as a coordinator sees them on the grid, in the order the
# README lists them; ages chosen so that each age band of the reports has a referral.
STORIES: tuple[Story, ...] = (
    Story("new", "Avery", "Quinn", ("RES",), 0),
    Story("assigned", "Blake", "Ortiz", ("RES",), 2, ((1, "assign", {"provider": PROVIDER}),)),
    Story(
        "answered (accepted)",
        "Cameron",
        "Hale",
        ("RES",),
        6,
        ((5, "assign", {"provider": PROVIDER}), (4, "accept", {})),
    ),
    Story(
        "provisional",
        "Devon",
        "Price",
        ("RES",),
        9,
        (
            (8, "assign", {"provider": PROVIDER}),
            (7, "tentative", {"reason": "funding", "comment": "A bed is held for the waiver."}),
        ),
    ),
    Story(
        "declined",
        "Emery",
        "Stone",
        ("DAY",),
        12,
        ((11, "decline", {"reason": "no vacancy", "program": DAY}),),
    ),
    Story("overdue", "Finley", "Ward", ("RES",), 10, county="Cole County"),
    Story("over 60 days", "Gray", "Lowe", ("RES",), 75, county="Callaway County"),
    Story(
        "pending placement",
        "Harper",
        "Reid",
        ("RES",),
        20,
        (
            (19, "assign", {"provider": PROVIDER}),
            (15, "accept", {}),
            (14, "pending", {}),
        ),
    ),
    Story(
        "closed: fully met",
        "Indigo",
        "Marsh",
        ("RES",),
        40,
        (
            (39, "assign", {"provider": PROVIDER}),
            (35, "accept", {}),
            (30, "pending", {}),
            (10, "close", {"outcome": "fully met"}),
        ),
    ),
    Story(
        "closed: partially met",
        "Jules",
        "Park",
        ("RES", "DAY"),
        95,
        (
            (94, "decline", {"reason": "no vacancy", "program": DAY}),
            (93, "assign", {"provider": PROVIDER, "program": RESIDENTIAL}),
            (90, "accept", {"program": RESIDENTIAL}),
            (50, "close", {"outcome": "partially met", "reason": "no day program nearby"}),
        ),
    ),
    Story(
        "closed: not met",
        "Kai",
        "Fox",
        ("RES",),
        30,
        (
            (29, "decline", {"reason": "no vacancy", "program": RESIDENTIAL}),
            (3, "close", {"outcome": "not met", "reason": "family moved out of state"}),
        ),
    ),
    Story(
        "statewide, accepted",
        "Logan",
        "Wu",
        ("BEH",),
        4,
        (
            (3, "assign-ozark", {"provider": OZARK_PROVIDER}),
            (2, "accept-ozark", {}),
        ),
        county="",
    ),
)


class _Clock:
    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment


def _at(now: datetime, days_ago: int) -> datetime:
    # Mid-afternoon in the network's time zone (15:00 UTC is 09:00 or 10:00 in Missouri).
    return (now - timedelta(days=days_ago)).replace(hour=15, minute=0, second=0, microsecond=0)


def seed_demo_referrals(runtime: Runtime) -> list[tuple[str, str]]:
    """Create the STORIES as they would have happened, then run the day's jobs (escalations,
    digests) as the clock would have; returns (number, stage) pairs.

    The notifications all this wrote are marked sent: they are the past, and a first run should
    print its welcome, not a hundred old emails."""
    now = runtime.clock()
    clock = _Clock(now)
    sessions = make_session_factory(runtime.engine, settings=runtime.settings, clock=clock)
    # Everything in the order it happened, so each person's last activity is their latest one
    # (the 90-day idle rule reads it) and older referrals have lower numbers.
    events = sorted(
        (
            (-days_ago, index, order, step, args)
            for index, story in enumerate(STORIES)
            for order, (days_ago, step, args) in enumerate(
                ((story.published_days_ago, "publish", {}), *story.steps)
            )
        ),
        key=lambda event: event[:3],
    )
    numbers: dict[int, str] = {}
    for minus_days, index, _order, step, args in events:
        clock.moment = _at(now, -minus_days)
        with transaction(sessions) as session:
            if step == "publish":
                birth = date(1970 + 2 * index, 1 + index % 12, 14)
                numbers[index] = _publish(session, STORIES[index], birth=birth)
            else:
                _STEPS[step](session, numbers[index], dict(args))
    made = [(numbers[index], story.stage) for index, story in enumerate(STORIES)]
    clock.moment = now
    catch_up(runtime)
    with transaction(sessions) as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.status == "pending")
            .values(status="sent", sent_at=now)
        )
    return made


def _publish(session: Session, story: Story, *, birth: date) -> str:
    casey = actor_by_email(session, COORDINATOR)
    client = clients.create_client(
        session,
        actor=casey,
        data={
            "first_name": story.first_name,
            "last_name": story.last_name,
            "birth_date": birth,
            "county": story.county.removesuffix(" County") or "Boone",
        },
        channel=Channel.CLI,
    )
    # The demo network requires the client's signed release of information for each program.
    clients.sign_consent(
        session,
        actor=casey,
        data={
            "client_id": client.id,
            "programs": list(CONSENTED),
            "info_types": ["demographics", "service needs"],
            "signed_by": "the client",
            "method": "electronic",
        },
        channel=Channel.CLI,
    )
    draft: dict[str, Any] = {
        "client_id": client.id,
        "facility_code": "CMO",
        "needs": list(story.needs),
        "urgency": "urgent" if story.stage == "new" else "routine",
    }
    if story.county:
        draft["counties"] = [story.county]
    else:
        draft["statewide"] = True
    referral = referrals.create_referral(session, actor=casey, draft=draft, channel=Channel.CLI)
    number = referral.number or ""
    referrals.publish_referral(session, actor=casey, number=number, channel=Channel.CLI)
    return number


def _assign(gatekeeper: str, program: str) -> Callable[[Session, str, dict[str, Any]], None]:
    def run(session: Session, number: str, args: dict[str, Any]) -> None:
        work.assign_referral(
            session,
            actor=actor_by_email(session, gatekeeper),
            number=number,
            provider=args["provider"],
            program=args.get("program", program),
            channel=Channel.SLACK,
        )

    return run


def _respond(
    person: str, kind: str, program: str | None
) -> Callable[[Session, str, dict[str, Any]], None]:
    def run(session: Session, number: str, args: dict[str, Any]) -> None:
        work.respond_to_referral(
            session,
            actor=actor_by_email(session, person),
            number=number,
            kind=kind,
            reason=args.get("reason"),
            comment=args.get("comment"),
            program=args.get("program", program),
            channel=Channel.EMAIL,
        )

    return run


def _pending(session: Session, number: str, _args: dict[str, Any]) -> None:
    referrals.mark_pending_placement(
        session, actor=actor_by_email(session, COORDINATOR), number=number, channel=Channel.WEB
    )


def _close(session: Session, number: str, args: dict[str, Any]) -> None:
    referrals.close_referral(
        session,
        actor=actor_by_email(session, COORDINATOR),
        number=number,
        closing=args,
        channel=Channel.WEB,
    )


_STEPS: dict[str, Callable[[Session, str, dict[str, Any]], None]] = {
    "assign": _assign(GATEKEEPER, RESIDENTIAL),
    "accept": _respond(PROVIDER, "accept", RESIDENTIAL),
    "tentative": _respond(PROVIDER, "tentative", RESIDENTIAL),
    "decline": _respond(GATEKEEPER, "decline", None),
    "assign-ozark": _assign(OZARK_GATEKEEPER, "ozark-behaviour"),
    "accept-ozark": _respond(OZARK_PROVIDER, "accept", "ozark-behaviour"),
    "pending": _pending,
    "close": _close,
}
