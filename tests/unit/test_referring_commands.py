"""The referring side's `/referral` verbs read into typed commands (pure)."""

from __future__ import annotations

from datetime import date

import pytest

from bot.domain.capacity import CapacityStatus
from bot.errors import InvalidInput
from handlers.slack.referring_commands import (
    EditReferral,
    FindClient,
    FindPrograms,
    NewReferral,
    SetCapacity,
    is_referring,
    parse_referring,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("client María García 1990-04-02", FindClient("María García 1990-04-02")),
        ("new", NewReferral()),
        ("new 42", NewReferral(42)),
        ("programs need res county St. Louis City", FindPrograms("RES", "St. Louis City")),
        ("programs county Boone need ISL", FindPrograms("ISL", "Boone")),
        ("programs", FindPrograms()),
        ("capacity waitlist 12", SetCapacity(CapacityStatus.WAITLIST, 12)),
        (
            "capacity no capacity until 2026-05-01 program=heartland-res",
            SetCapacity(CapacityStatus.NONE, None, date(2026, 5, 1), "heartland-res"),
        ),
        ("capacity assess", SetCapacity(CapacityStatus.ASSESSMENT)),
        ("edit 2026-42", EditReferral("R-2026-000042")),
    ],
)
def test_parse(text: str, expected: object) -> None:
    assert is_referring(text)
    assert parse_referring(text) == expected


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("client", "q"),
        ("new maria", "client"),
        ("capacity", "status"),
        ("capacity plenty", "capacity"),
        ("capacity open until someday", "until"),
        ("edit", "number"),
        ("edit banana", "number"),
    ],
)
def test_refusals_name_the_field(text: str, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_referring(text)
    assert caught.value.field == field


def test_work_verbs_are_left_to_the_work_parser() -> None:
    assert not is_referring("close R-2026-000042 fully met")
    assert not is_referring("")
