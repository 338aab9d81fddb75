"""The grid's copies on each referral-program row stay equal to their source through a
referral's whole life, and the drift check notices when they do not."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.domain.permissions import Actor
from bot.domain.vocab import Channel
from bot.services import referrals, work
from bot.services.directory import (
    import_directory,
    parse_directory,
    resume_program,
    suspend_program,
)
from bot.services.grid_rows import stale_grid_rows
from storage.db import transaction
from storage.models import Recipient, Referral, referral_needs
from tests.network import COORD, DANA, GK_HOME, small_network
from tests.service.helpers import draft, published

AsStaff = Callable[[Session, str], Actor]


def _in_step(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as s:
        assert stale_grid_rows(s) == []


def _copies(sessions: sessionmaker[Session], number: str) -> dict[str, tuple[object, ...]]:
    with transaction(sessions) as s:
        rows = s.execute(
            select(
                Recipient.grid_program,
                Recipient.grid_state,
                Recipient.grid_number,
                Recipient.grid_urgency,
                Recipient.grid_last_name,
                Recipient.grid_published_at.is_not(None),
            ).where(Recipient.grid_number == number)
        ).all()
    return {str(r[0]): (str(r[1]), r[2], str(r[3]), r[4], r[5]) for r in rows}


def _needs(sessions: sessionmaker[Session], number: str) -> list[str]:
    with transaction(sessions) as s:
        return sorted(
            s.scalars(
                select(referral_needs.c.code)
                .join(Referral, Referral.id == referral_needs.c.referral_id)
                .where(Referral.number == number)
            )
        )


def test_the_copies_follow_a_referral_through_its_life(
    network: sessionmaker[Session], as_staff: AsStaff
) -> None:
    with transaction(network) as s:
        suspend_program(s, actor=as_staff(s, GK_HOME), program="heartland-res", channel=Channel.API)
    number = published(network, needs=["RES", "DAY"])
    _in_step(network)
    assert _copies(network, number) == {
        "Heartland Day": ("open", number, "routine", "Example", True),
    }
    assert _needs(network, number) == ["DAY", "RES"]

    with transaction(network) as s:
        referrals.edit_referral(
            s,
            actor=as_staff(s, COORD),
            number=number,
            edit={"urgency": "urgent", "needs": ["RES", "DAY", "BEH"]},
            channel=Channel.API,
        )
    _in_step(network)
    assert _needs(network, number) == ["BEH", "DAY", "RES"]
    with transaction(network) as s:
        referrals.republish_referral(
            s, actor=as_staff(s, COORD), number=number, channel=Channel.API
        )
    _in_step(network)
    assert sorted(_copies(network, number)) == ["Heartland Day", "Ozark Behaviour"]

    with transaction(network) as s:
        resume_program(s, actor=as_staff(s, GK_HOME), program="heartland-res", channel=Channel.API)
        work.assign_referral(
            s,
            actor=as_staff(s, GK_HOME),
            number=number,
            provider=DANA,
            program="heartland-res",
            channel=Channel.API,
        )
    with transaction(network) as s:
        work.respond_to_referral(
            s, actor=as_staff(s, DANA), number=number, kind="accept", channel=Channel.API
        )
        referrals.mark_pending_placement(
            s, actor=as_staff(s, COORD), number=number, channel=Channel.API
        )
    _in_step(network)
    assert _copies(network, number)["Heartland Residential"][:3] == (
        "pending_placement",
        number,
        "urgent",
    )

    renamed = small_network()
    renamed["agencies"][0]["programs"][0]["name"] = "Heartland Homes"
    with transaction(network) as s:
        import_directory(s, directory=parse_directory(renamed, source="t.json"), source="t.json")
    _in_step(network)
    with transaction(network) as s:
        referrals.close_referral(
            s,
            actor=as_staff(s, COORD),
            number=number,
            closing={"outcome": "fully met"},
            channel=Channel.API,
        )
    _in_step(network)
    assert {k: v[0] for k, v in _copies(network, number).items()} == {
        "Heartland Day": "closed",
        "Heartland Homes": "closed",
        "Ozark Behaviour": "closed",
    }

    with transaction(network) as s:
        unpublished = draft(s, needs=["EMP"])
    other = published(network)
    with transaction(network) as s:
        referrals.edit_referral(
            s, actor=as_staff(s, COORD), number=other, edit={"statewide": True}, channel=Channel.API
        )
    _in_step(network)
    with transaction(network) as s:
        for n in (unpublished, other):
            referrals.delete_referral(
                s, actor=as_staff(s, COORD), number=n, channel=Channel.API, reason="twice"
            )
    _in_step(network)
    assert {v[0] for v in _copies(network, other).values()} == {"deleted"}
    assert _needs(network, unpublished) == ["EMP"]


def test_the_drift_check_names_a_referral_out_of_step(network: sessionmaker[Session]) -> None:
    number = published(network, needs=["RES"])
    with transaction(network) as s:
        s.execute(update(Recipient).values(grid_urgency="emergent"))
        referral_id = s.scalar(select(Referral.id).where(Referral.number == number))
        assert stale_grid_rows(s) == [referral_id]
