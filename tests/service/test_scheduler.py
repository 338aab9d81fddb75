"""The scheduler's jobs, driven by a clock the test controls."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from bot.actors import actor_by_email
from bot.domain.permissions import Actor
from bot.domain.vocab import Channel
from bot.jobs import catch_up, jobs, run_job
from bot.runtime import Runtime
from bot.services import digest_build, digests, escalations, referrals, work
from bot.services.reminders import thirty_day_reminders
from bot.settings import Settings
from storage.db import transaction
from storage.models import County, OutboxMessage
from tests.conftest import Clock
from tests.network import BEN, COORD, DANA, GK_HOME, GK_OZARK, STATEWIDE_COORD
from tests.service.helpers import published

AsStaff = Callable[[Session, str], Actor]


def _messages(sessions: sessionmaker[Session], kind: str) -> list[OutboxMessage]:
    with transaction(sessions) as s:
        return list(
            s.scalars(
                select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)
            )
        )


def _at(clock: Clock, day: datetime) -> None:
    clock.now = day


def test_thirty_day_reminders_over_95_days(
    network: sessionmaker[Session], as_staff: AsStaff, clock: Clock
) -> None:
    start = clock.now  # Monday 2 March 2026, 09:00 in Missouri
    a = published(network, needs=["RES"])  # Heartland Residential: Grace
    b = published(network, needs=["DAY"])  # Heartland Day: Grace
    clock.now = start + timedelta(days=2)
    with transaction(network) as s:
        work.assign_referral(
            s, actor=as_staff(s, GK_HOME), number=a, provider=DANA, channel=Channel.SLACK
        )
    clock.now = start + timedelta(days=10)
    c = published(network, needs=["RES"], counties=["Cole County"])
    reminders: dict[str, list[tuple[int, list[str]]]] = defaultdict(list)
    seen = 0
    for day in range(1, 96):
        clock.now = start + timedelta(days=day, hours=-3)  # 06:00 local, when the job runs
        if day == 50:
            with transaction(network) as s:
                referrals.close_referral(
                    s,
                    actor=as_staff(s, COORD),
                    number=b,
                    closing={"outcome": "fully met"},
                    channel=Channel.SLACK,
                )
        with transaction(network) as s:
            thirty_day_reminders(s)
        rows = _messages(network, "thirty_day_reminder")
        for row in rows[seen:]:
            reminders[row.address].append((day, [i["number"] for i in row.payload["items"]]))
        seen = len(rows)
    assert reminders[GK_HOME] == [
        (30, [a, b]),  # one message for both referrals, never one per referral
        (40, [c]),
        (60, [a]),  # b was closed on day 50
        (70, [c]),
        (90, [a]),
    ]
    assert reminders[DANA] == [(32, [a]), (62, [a]), (92, [a])]
    assert set(reminders) == {GK_HOME, DANA}


def test_a_slow_reminder_run_overlapping_the_next_lists_each_referral_once(
    network: sessionmaker[Session], clock: Clock
) -> None:
    """Day 30's run is still open when day 31's starts (a slow run, another clock): the second
    waits for the first, then finds the anniversary already covered, instead of listing it
    again under its own date."""
    start = clock.now
    number = published(network, needs=["RES"])
    first_open, second_waiting, release = threading.Event(), threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def run(day: int, hold: bool) -> None:
        try:
            with transaction(network) as s:
                s.info["clock"] = lambda: start + timedelta(days=day, hours=-3)
                if not hold:
                    second_waiting.set()
                thirty_day_reminders(s)
                if hold:
                    first_open.set()
                    release.wait(30)
        except BaseException as exc:
            errors.append(exc)

    slow = threading.Thread(target=run, args=(30, True))
    slow.start()
    assert first_open.wait(30)
    late = threading.Thread(target=run, args=(31, False))
    late.start()
    assert second_waiting.wait(30)
    _wait_until_blocked(network)
    release.set()
    for thread in (slow, late):
        thread.join(60)
    assert errors == []
    rows = _messages(network, "thirty_day_reminder")
    assert [
        (r.address, r.payload["date"], [i["number"] for i in r.payload["items"]]) for r in rows
    ] == [(GK_HOME, (start + timedelta(days=30)).date().isoformat(), [number])]


def _wait_until_blocked(sessions: sessionmaker[Session]) -> None:
    """On PostgreSQL, until the second run waits on the first one's advisory lock; on SQLite,
    whose BEGIN IMMEDIATE waits on the database's write lock, a moment."""
    with transaction(sessions) as s:
        if s.get_bind().dialect.name != "postgresql":
            time.sleep(0.3)
            return
    for _ in range(300):
        with transaction(sessions) as s:
            waiting = s.scalar(
                text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
            )
        if waiting:
            return
        time.sleep(0.05)
    raise AssertionError("the second run never waited for the first")


@pytest.mark.parametrize(
    ("published_on", "first_escalation"),
    [
        (datetime(2026, 11, 20, 15, tzinfo=UTC), datetime(2026, 12, 1).date()),  # over Thanksgiving
        (datetime(2026, 12, 28, 15, tzinfo=UTC), datetime(2027, 1, 6).date()),  # over New Year
        (datetime(2026, 3, 6, 15, tzinfo=UTC), datetime(2026, 3, 16).date()),  # over a weekend
    ],
)
def test_overdue_escalation_counts_business_days(
    network: sessionmaker[Session], clock: Clock, published_on: datetime, first_escalation: object
) -> None:
    clock.now = published_on
    number = published(network, needs=["RES", "BEH"])  # Heartland Residential and Ozark Behaviour
    with transaction(network) as s:
        work.respond_to_referral(
            s, actor=_actor(s, GK_OZARK), number=number, kind="accept", channel=Channel.SLACK
        )
    escalated: list[tuple[object, str, str]] = []
    for day in range(1, 20):
        clock.now = published_on + timedelta(days=day, hours=-2)
        with transaction(network) as s:
            escalations.overdue_escalations(s)
        for row in _messages(network, "overdue_gatekeeper") + _messages(
            network, "overdue_coordinator"
        ):
            entry = (clock.now.date(), row.kind, row.address)
            if not any(e[1:] == entry[1:] for e in escalated):
                escalated.append(entry)
    assert escalated == [
        (first_escalation, "overdue_gatekeeper", GK_HOME),
        (first_escalation, "overdue_coordinator", COORD),
    ]
    coordinator_note = _messages(network, "overdue_coordinator")[0].payload["items"][0]
    assert coordinator_note["program"] == "Heartland Residential"
    assert coordinator_note["consider"] == [{"program": "Ozark Behaviour", "response": "accept"}]


def _actor(session: Session, email: str) -> Actor:

    return actor_by_email(session, email)


def _runtime(settings: Settings, clock: Clock) -> Runtime:
    return Runtime(settings, clock=clock)


def test_downtime_of_three_days_then_start_sends_one_catch_up_digest(
    network: sessionmaker[Session], settings: Settings, clock: Clock
) -> None:
    runtime = _runtime(settings, clock)
    try:
        clock.now = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)  # 08:00 local: after the 07:30 digest
        catch_up(runtime)
        first = _messages(network, "coordinator_digest")
        assert [(m.address, m.channel) for m in first] == [("C0CENTRAL", "console")]
        clock.now = datetime(2026, 3, 3, 16, 0, tzinfo=UTC)
        published(network)  # something happens during the downtime
        clock.now = datetime(2026, 3, 6, 15, 0, tzinfo=UTC)  # down for three days
        catch_up(runtime)
        catch_up(runtime)  # and a second start the same day
        rows = _messages(network, "coordinator_digest")
        assert len(rows) == 2
        assert rows[1].payload["since"] == first[0].payload["until"]
        assert [r["number"] for r in rows[1].payload["new"]] == ["R-2026-000001"]
        # Before the digest's time of day, a start does not send it early.
        clock.now = datetime(2026, 3, 7, 12, 0, tzinfo=UTC)  # 06:00 local
        assert "coordinator_digests" not in catch_up(runtime)
        assert len(_messages(network, "coordinator_digest")) == 2
    finally:
        runtime.close()


def test_two_clocks_at_the_same_instant_write_each_message_once(
    network: sessionmaker[Session], settings: Settings, clock: Clock, as_staff: AsStaff
) -> None:
    start = clock.now
    published(network, needs=["RES", "DAY"])
    published(network, needs=["BEH"], statewide=True, counties=[])
    clock.now = start + timedelta(days=30, hours=1)
    clocks = [_runtime(settings, clock) for _ in range(2)]
    names = [j.name for j in jobs(settings.digest_time)]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(runtime: Runtime) -> None:
        try:
            barrier.wait()
            for name in names:
                run_job(name, runtime)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(r,)) for r in clocks]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for r in clocks:
        r.close()
    assert errors == []
    with transaction(network) as s:
        keys = s.scalars(select(OutboxMessage.key)).all()
        assert len(keys) == len(set(keys))
        by_kind: dict[str, list[str]] = defaultdict(list)
        for row in s.scalars(select(OutboxMessage)):
            by_kind[row.kind].append(row.address)
    assert sorted(by_kind["thirty_day_reminder"]) == sorted([GK_HOME, GK_OZARK])
    assert by_kind["coordinator_digest"] == ["C0CENTRAL"]
    assert sorted(by_kind["overdue_gatekeeper"]) == sorted([GK_HOME, GK_OZARK])
    assert sorted(by_kind["overdue_coordinator"]) == [COORD]


def test_digest_content_counts_for_a_seeded_network(
    network: sessionmaker[Session], as_staff: AsStaff, clock: Clock
) -> None:
    old = published(network, needs=["RES"])  # 70 days old at the digest: aging, and overdue
    start = clock.now + timedelta(days=70)  # the digest's moment
    clock.now = start - timedelta(days=3)
    answered = published(network, needs=["RES", "BEH"])  # Heartland Res + Ozark Behaviour
    pending = published(network, needs=["DAY"])
    clock.now = start - timedelta(hours=5)
    fresh = published(network, needs=["BEH"], counties=["Cole County"])
    greene = published(
        network, by="willa@coord.example.org", needs=["RSP"], counties=["Greene County"]
    )
    with transaction(network) as s:
        work.assign_referral(
            s, actor=as_staff(s, GK_OZARK), number=answered, provider=BEN, channel=Channel.SLACK
        )
        work.respond_to_referral(
            s,
            actor=as_staff(s, BEN),
            number=answered,
            kind="tentative",
            reason="staff",
            channel=Channel.EMAIL,
        )
        work.respond_to_referral(
            s,
            actor=as_staff(s, GK_HOME),
            number=answered,
            kind="decline",
            reason="no vac",
            channel=Channel.SLACK,
        )
        work.set_service_status(
            s, actor=as_staff(s, BEN), number=answered, status="enrolled", channel=Channel.SLACK
        )
        referrals.mark_pending_placement(
            s, actor=as_staff(s, COORD), number=pending, channel=Channel.SLACK
        )
    clock.now = start
    with transaction(network) as s:
        central = {
            c.id
            for c in s.scalars(select(__import__("storage.models", fromlist=["County"]).County))
            if c.name in ("Boone County", "Cole County")
        }
        digest = digests.build_digest(
            s, county_ids=central, since=start - timedelta(days=1), until=start
        )
    assert [r["number"] for r in digest["new"]] == [fresh]
    assert digest["new"][0]["programs"] == 1
    assert [
        (r["number"], r["program"], r["response"], r["reason"]) for r in digest["responses"]
    ] == [
        (answered, "Ozark Behaviour", "tentative", "pending staffing"),
        (answered, "Heartland Residential", "decline", "no vacancy"),
    ]
    assert digest["status_changes"] == [
        {"number": answered, "program": "Ozark Behaviour", "status": "enrolled in services"}
    ]
    assert digest["pending"] == [pending]
    assert [(r["number"], r["program"]) for r in digest["overdue"]] == [
        (old, "Heartland Residential")
    ]
    assert digest["aging"] == [{"number": old, "age_days": 70}]
    # Outstanding: routed, not accepted or declined. old@Res, answered@Ozark (tentative),
    # pending@Day, fresh@Ozark; answered@Res was declined; greene is not in these counties.
    assert digest["outstanding"] == [
        {"program": "Ozark Behaviour", "count": 2},
        {"program": "Heartland Day", "count": 1},
        {"program": "Heartland Residential", "count": 1},
    ]
    assert digest["outstanding_total"] == 4
    assert digest["answered_count"] == 2
    assert greene not in str(digest)
    with transaction(network) as s:
        text = digests.digest_text_for(s, actor=as_staff(s, COORD))
    assert "Outstanding incoming referrals (routed, not yet accepted or declined): 4" in text
    assert "Incoming referrals answered in the period: 2" in text
    with transaction(network) as s:
        everywhere = digests.digest_text_for(s, actor=as_staff(s, STATEWIDE_COORD))
    assert greene in everywhere


def test_digests_deal_each_referral_to_every_target_whose_counties_it_touches(
    network: sessionmaker[Session],
    as_staff: AsStaff,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Counts are grouped by a referral's set of counties (or statewide) and dealt out to the
    # digests: one referral in two regions counts once in each, a statewide one everywhere.
    monkeypatch.setattr(digest_build, "MAX_LISTED", 2)
    start = clock.now + timedelta(days=70)
    by = STATEWIDE_COORD
    two = published(network, by, needs=["RES"], counties=["Boone County", "Greene County"])
    clock.advance(hours=1)
    cole = published(network, by, needs=["RES"], counties=["Cole County"])
    clock.advance(hours=1)
    state = published(network, by, needs=["BEH"], statewide=True, counties=[])
    clock.advance(hours=1)
    west = published(network, by, needs=["HSG"], counties=["Jackson County", "Boone County"])
    with transaction(network) as s:
        referrals.mark_pending_placement(
            s, actor=as_staff(s, STATEWIDE_COORD), number=state, channel=Channel.SLACK
        )
    clock.now = start - timedelta(hours=2)
    fresh = published(network, by, needs=["RES"], counties=["Greene County", "Cole County"])
    clock.now = start
    with transaction(network) as s:
        county = {c.name: c.id for c in s.scalars(select(County))}
        targets: dict[str, set[int] | None] = {
            "central": {county["Boone County"], county["Cole County"]},
            "southwest": {county["Greene County"]},
            "jackson": {county["Jackson County"]},
            "all": None,
            "none": set(),
        }
        built = digests.build_digests(
            s,
            targets=targets,
            since={t: start - timedelta(days=1) for t in targets},
            until=start,
        )
    summary = {
        t: (
            [r["number"] for r in d["aging"]],
            d["aging_count"],
            [r["number"] for r in d["overdue"]],
            d["overdue_count"],
            d["pending"],
            d["pending_count"],
            d["outstanding_total"],
            [(r["number"], r["where"], r["programs"]) for r in d["new"]],
        )
        for t, d in built.items()
    }
    new = [(fresh, "Cole County, Greene County", 2)]  # Heartland Residential, Ozark Respite
    assert summary == {
        # Pairs: two@Residential, two@Respite, cole@Residential, state@Behaviour (pending:
        # not overdue), west@Housing, fresh@Residential and fresh@Respite (not yet overdue).
        "central": ([two, cole], 4, [two, two], 4, [state], 1, 7, new),
        "southwest": ([two, state], 2, [two, two], 2, [state], 1, 5, new),
        "jackson": ([state, west], 2, [west], 1, [state], 1, 2, []),
        "all": ([two, cole], 4, [two, two], 4, [state], 1, 7, new),
        "none": ([state], 1, [], 0, [state], 1, 1, []),
    }
    # A program's pairs are counted in each digest that one of their referrals concerns.
    assert built["southwest"]["outstanding"] == [
        {"program": "Heartland Residential", "count": 2},
        {"program": "Ozark Respite", "count": 2},
        {"program": "Ozark Behaviour", "count": 1},
    ]
