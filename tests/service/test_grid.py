"""The referral grid: who sees which rows, filters, overdue, stable paging."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.domain.permissions import Actor
from bot.domain.vocab import Channel
from bot.errors import InvalidInput
from bot.services import work
from bot.services.grid import GridQuery, search
from storage.db import transaction
from tests.conftest import Clock
from tests.network import ADMIN, BEN, COORD, COORD_SW, DANA, GK_HOME, GK_OZARK, STATEWIDE_COORD
from tests.service.helpers import new_client, published

AsStaff = Callable[[Session, str], Actor]


def _grid(
    sessions: sessionmaker[Session], as_staff: AsStaff, who: str, **q: object
) -> list[tuple[str, str]]:
    with transaction(sessions) as s:
        page = search(s, actor=as_staff(s, who), query=GridQuery(**q))  # type: ignore[arg-type]
    return [(r.number, r.program_key) for r in page.rows]


def test_each_role_sees_its_rows(network: sessionmaker[Session], as_staff: AsStaff) -> None:
    boone = published(network, needs=["RES", "BEH"])  # heartland-res, ozark-beh
    greene = published(network, by=COORD_SW, needs=["RES"], counties=["Greene County"])  # ozark-rsp
    with transaction(network) as s:
        work.assign_referral(
            s,
            actor=as_staff(s, GK_OZARK),
            number=boone,
            provider=BEN,
            program="ozark-beh",
            channel=Channel.SLACK,
        )
    assert _grid(network, as_staff, GK_HOME) == [(boone, "heartland-res")]
    assert _grid(network, as_staff, GK_OZARK) == [(boone, "ozark-beh"), (greene, "ozark-rsp")]
    assert _grid(network, as_staff, BEN) == [(boone, "ozark-beh")]
    assert _grid(network, as_staff, DANA) == []  # a provider sees only what is assigned to them
    assert _grid(network, as_staff, COORD) == [(boone, "heartland-res"), (boone, "ozark-beh")]
    assert _grid(network, as_staff, COORD_SW) == [(greene, "ozark-rsp")]
    assert len(_grid(network, as_staff, STATEWIDE_COORD)) == 3
    assert len(_grid(network, as_staff, ADMIN)) == 3


def test_filters(network: sessionmaker[Session], as_staff: AsStaff) -> None:
    with transaction(network) as s:
        client = new_client(s, last_name="Zimmer", external_id="MO-123")
    a = published(network, client_id=client, needs=["RES"])
    b = published(network, needs=["DAY"])
    assert _grid(network, as_staff, COORD, need="day") == [(b, "heartland-day")]
    assert _grid(network, as_staff, COORD, last_name="zim") == [(a, "heartland-res")]
    assert _grid(network, as_staff, COORD, external_id="MO-123") == [(a, "heartland-res")]
    assert _grid(network, as_staff, COORD, number=b.lower()) == [(b, "heartland-day")]
    assert _grid(network, as_staff, COORD, county="Cole") == []
    assert _grid(network, as_staff, COORD, county="boone county") == [
        (a, "heartland-res"),
        (b, "heartland-day"),
    ]
    assert _grid(network, as_staff, COORD, program="Heartland Day") == [(b, "heartland-day")]
    assert _grid(network, as_staff, COORD, scope="closed") == []


def test_overdue_after_five_business_days_without_assignment_or_answer(
    network: sessionmaker[Session], as_staff: AsStaff, clock: Clock
) -> None:
    number = published(network, needs=["RES", "DAY"])  # Monday 2 March 2026
    clock.advance(days=7)  # Monday 9 March: four whole business days have passed
    assert _grid(network, as_staff, COORD, scope="overdue") == []
    clock.advance(days=1)  # Tuesday 10 March
    rows = _grid(network, as_staff, COORD, scope="overdue")
    assert sorted(rows) == [(number, "heartland-day"), (number, "heartland-res")]
    with transaction(network) as s:
        work.assign_referral(
            s,
            actor=as_staff(s, GK_HOME),
            number=number,
            provider=DANA,
            program="heartland-res",
            channel=Channel.SLACK,
        )
    assert _grid(network, as_staff, COORD, scope="overdue") == [(number, "heartland-day")]


def test_paging_is_stable_and_complete(
    network: sessionmaker[Session], as_staff: AsStaff, clock: Clock
) -> None:
    numbers = []
    for _ in range(7):
        numbers.append(published(network))
        clock.advance(hours=1)
    seen: list[str] = []
    cursor = None
    for _ in range(4):
        with transaction(network) as s:
            page = search(s, actor=as_staff(s, COORD), query=GridQuery(limit=3, cursor=cursor))
        seen += [r.number for r in page.rows]
        assert page.total == 7
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == numbers  # oldest first, each once
    with transaction(network) as s:
        newest = search(s, actor=as_staff(s, COORD), query=GridQuery(limit=2, descending=True))
    assert [r.number for r in newest.rows] == numbers[::-1][:2]


def test_bad_sort_and_cursor(network: sessionmaker[Session], as_staff: AsStaff) -> None:
    with pytest.raises(InvalidInput, match='Cannot sort by "colour"'), transaction(network) as s:
        search(s, actor=as_staff(s, COORD), query=GridQuery(sort="colour"))
    with pytest.raises(InvalidInput, match="page cursor"), transaction(network) as s:
        search(s, actor=as_staff(s, COORD), query=GridQuery(cursor="garbage!!"))


def test_a_name_with_a_quote_is_matched_as_written(
    network: sessionmaker[Session], as_staff: AsStaff
) -> None:
    with transaction(network) as s:
        client = new_client(s, last_name="O'Brien", first_name="Siobhan")
    number = published(network, client_id=client)
    assert _grid(network, as_staff, COORD, last_name="o'b") == [(number, "heartland-res")]
    assert _grid(network, as_staff, COORD, last_name="O'Brien", first_name="sio") == [
        (number, "heartland-res")
    ]
    assert _grid(network, as_staff, COORD, last_name="o'b'; --") == []


@pytest.mark.parametrize(
    ("sort", "descending"),
    [("program", False), ("number", True), ("urgency", True), ("response", False)],
)
def test_paging_by_each_order_is_stable_and_complete(
    network: sessionmaker[Session], as_staff: AsStaff, sort: str, descending: bool
) -> None:
    for urgency in ("urgent", "routine", "emergent"):
        published(network, needs=["RES", "DAY", "BEH"], urgency=urgency)
    with transaction(network) as s:
        work.respond_to_referral(
            s,
            actor=as_staff(s, GK_HOME),
            number=search(s, actor=as_staff(s, COORD), query=GridQuery()).rows[0].number,
            kind="accept",
            program="heartland-res",
            channel=Channel.SLACK,
        )
    with transaction(network) as s:
        everything = search(
            s, actor=as_staff(s, ADMIN), query=GridQuery(sort=sort, descending=descending)
        ).rows
    seen: list[int] = []
    cursor = None
    while True:
        with transaction(network) as s:
            query = GridQuery(sort=sort, descending=descending, limit=2, cursor=cursor)
            page = search(s, actor=as_staff(s, ADMIN), query=query)
        seen += [r.recipient_id for r in page.rows]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert len(everything) == 9
    assert seen == [r.recipient_id for r in everything]
    keys = {
        "program": [r.program for r in everything],
        "number": [r.number for r in everything][::-1],
        "urgency": [r.urgency for r in everything][::-1],
        "response": [r.response or "~" for r in everything],  # no response sorts last
    }[sort]
    assert keys == sorted(keys)
