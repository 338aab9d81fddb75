"""Business days around weekends and holidays (Missouri, 2026-2027)."""

from __future__ import annotations

from datetime import date

import pytest

from bot.domain.business_days import calendar


@pytest.mark.parametrize(
    ("published", "overdue_on"),
    [
        (date(2026, 3, 2), date(2026, 3, 10)),  # Monday: Tue..Mon are the five, overdue Tuesday
        (date(2026, 3, 6), date(2026, 3, 16)),  # Friday: Mon..Fri, overdue the next Monday
        (date(2026, 3, 7), date(2026, 3, 16)),  # Saturday: same five days as Friday's
        (date(2026, 11, 20), date(2026, 12, 1)),  # Thanksgiving (26th) is skipped
        (date(2026, 11, 25), date(2026, 12, 4)),  # the day before Thanksgiving
        (date(2026, 12, 28), date(2027, 1, 6)),  # New Year's Day 2027 is skipped
        (date(2027, 5, 3), date(2027, 5, 12)),  # Truman Day observed (Fri 7 May), Missouri only
    ],
)
def test_overdue_after_five_business_days(published: date, overdue_on: date) -> None:
    cal = calendar("US", "MO")
    assert cal.overdue_on(published) == overdue_on
    assert not cal.is_overdue(published, date.fromordinal(overdue_on.toordinal() - 1))
    assert cal.is_overdue(published, overdue_on)


def test_truman_day_is_a_missouri_holiday_not_a_federal_one() -> None:
    assert calendar("US", "MO").overdue_on(date(2027, 5, 3)) == date(2027, 5, 12)
    assert calendar("US", None).overdue_on(date(2027, 5, 3)) == date(2027, 5, 11)


def test_elapsed_counts_business_days_after_the_start() -> None:
    cal = calendar("US", "MO")
    assert cal.elapsed(date(2026, 11, 20), date(2026, 11, 30)) == 5
    assert cal.elapsed(date(2026, 11, 21), date(2026, 11, 23)) == 1
    assert cal.elapsed(date(2026, 11, 23), date(2026, 11, 23)) == 0
