"""Business days: weekends and the public holidays of the network's country and state.

The `holidays` package already knows every US state's holidays (Missouri's Truman Day included)
and counts working days; we only decide what "overdue" means on top of it.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache

import holidays

OVERDUE_BUSINESS_DAYS = 5


class BusinessCalendar:
    def __init__(self, country: str = "US", subdivision: str | None = "MO") -> None:
        self._holidays = holidays.country_holidays(country, subdiv=subdivision)

    def is_business_day(self, day: date) -> bool:
        return bool(self._holidays.is_working_day(day))

    def add(self, day: date, n: int) -> date:
        """The n-th business day after `day` (`day` itself does not count)."""
        result: date = self._holidays.get_nth_working_day(day, n)
        return result

    def elapsed(self, start: date, end: date) -> int:
        """Business days after `start` up to and including `end`."""
        if end <= start:
            return 0
        count: int = self._holidays.get_working_days_count(start, end)
        return count - (1 if self.is_business_day(start) else 0)

    def overdue_on(self, published: date) -> date:
        """The first day on which a referral published on `published` with no assignment or
        response is overdue: once five whole business days have passed."""
        return self.add(self.add(published, OVERDUE_BUSINESS_DAYS), 1)

    def is_overdue(self, published: date, today: date) -> bool:
        return today >= self.overdue_on(published)


@lru_cache(maxsize=8)
def calendar(country: str = "US", subdivision: str | None = "MO") -> BusinessCalendar:
    return BusinessCalendar(country, subdivision)
