"""The idle rule's decisions, table-driven: warnings first, the last admin and officer kept,
a bounded share removed per run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.domain.idle import Person, plan_idle, removal_bound

NOW = datetime(2026, 7, 1, 10, 0, tzinfo=UTC)


def _person(
    staff_id: int, idle_days: int, warned_days_ago: int | None = None, **roles: object
) -> Person:
    warned = NOW - timedelta(days=warned_days_ago) if warned_days_ago is not None else None
    return Person(
        staff_id=staff_id,
        last_use=NOW - timedelta(days=idle_days),
        warned_at=warned,
        **roles,  # type: ignore[arg-type]
    )


def test_removal_bound_is_a_tenth_and_at_least_one() -> None:
    assert [removal_bound(n) for n in (1, 9, 10, 19, 20, 400)] == [1, 1, 1, 1, 2, 40]


def test_nobody_goes_without_a_warning_fourteen_days_before() -> None:
    people = [
        _person(1, 75),  # not yet
        _person(2, 76),  # warned now
        _person(3, 120),  # a silent network: warned now, not removed
        _person(4, 91, warned_days_ago=13),  # warned 13 days ago: waits
        _person(5, 91, warned_days_ago=14),  # warned 14 days ago: removed
        _person(6, 100, warned_days_ago=120),  # warned before their last use: warned again
    ] + [_person(100 + i, 1) for i in range(10)]
    plan = plan_idle(people, now=NOW)
    assert (plan.warn, plan.remove, plan.held, plan.kept) == ([3, 6, 2], [5], [], {})


def test_the_last_admin_and_each_agencys_last_officer_are_kept() -> None:
    people = [
        _person(1, 130, 20, is_admin=True),
        _person(2, 120, 20, is_admin=True),
        _person(3, 125, 20, officer_of=frozenset({7})),
        _person(4, 124, 20, officer_of=frozenset({7, 8})),
        *[_person(100 + i, 1) for i in range(40)],
    ]
    plan = plan_idle(people, now=NOW)
    # The most idle admin goes, the other is then the last; officer 3 goes, 4 is then the
    # last of agency 7 (and the only one of 8).
    assert plan.remove == [1, 3]
    assert plan.kept == {
        4: "their agency's last security officer",
        2: "the network's last active admin",
    }


def test_past_the_bound_the_rest_is_held_and_a_second_run_counts_the_first() -> None:
    people = [_person(i, 120, 15) for i in range(1, 31)]  # 30 people, all due
    plan = plan_idle(people, now=NOW)
    assert (plan.bound, plan.remove, len(plan.held)) == (3, [1, 2, 3], 27)
    again = plan_idle(people[3:], now=NOW, removed_today=3)
    assert (again.bound, again.remove, len(again.held)) == (0, [], 27)
