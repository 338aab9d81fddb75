"""Vocabularies, the lifecycle and permissions: plain rules, no database."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from bot.domain.lifecycle import age_days, check_transition, is_aging
from bot.domain.permissions import Actor, Grant, may_see_referral, require_may_act, require_may_work
from bot.domain.vocab import (
    FHIR_TASK_STATUS,
    DeclineReason,
    ProvisionReason,
    ReferralState,
    Role,
    ServiceStatus,
    match_choice,
)
from bot.errors import Conflict, Forbidden, InvalidInput


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("no vacancy", DeclineReason.NO_VACANCY),
        ("NO VAC", DeclineReason.NO_VACANCY),
        ("no", DeclineReason.NO_VACANCY),
        ("cannot meet med", DeclineReason.MEDICAL),
        ("Cannot meet behav", DeclineReason.BEHAVIOURAL),
        ("loc", DeclineReason.LOCATION),
        ("fund", DeclineReason.FUNDING),
        ("other", DeclineReason.OTHER),
    ],
)
def test_decline_reasons_by_unambiguous_prefix(text: str, expected: DeclineReason) -> None:
    assert match_choice(text, DeclineReason, field="decline reason") is expected


def test_an_ambiguous_prefix_lists_the_candidates() -> None:
    with pytest.raises(InvalidInput) as caught:
        match_choice("cannot", DeclineReason, field="decline reason")
    assert caught.value.field == "decline reason"
    assert "cannot meet medical needs, cannot meet behavioural needs" in str(caught.value)


def test_an_unknown_reason_lists_every_valid_one() -> None:
    with pytest.raises(InvalidInput) as caught:
        match_choice("weather", ProvisionReason, field="provision reason")
    text = str(caught.value)
    assert '"weather" is not a provision reason' in text
    for reason in ProvisionReason:
        assert reason.value in text


def test_statuses_match_with_punctuation_ignored() -> None:
    assert (
        match_choice("not started unable", ServiceStatus, field="s")
        is ServiceStatus.NOT_STARTED_UNABLE_TO_CONTACT
    )
    assert (
        match_choice("Closed - successful", ServiceStatus, field="s")
        is ServiceStatus.CLOSED_SUCCESS
    )
    assert match_choice("enrolled", ServiceStatus, field="s") is ServiceStatus.ENROLLED


def test_thirteen_statuses_each_mapped_to_a_fhir_task_status() -> None:
    fhir = {
        "draft",
        "requested",
        "received",
        "accepted",
        "rejected",
        "ready",
        "cancelled",
        "in-progress",
        "on-hold",
        "failed",
        "completed",
        "entered-in-error",
    }
    assert len(ServiceStatus) == 13
    assert set(FHIR_TASK_STATUS) == set(ServiceStatus)
    assert set(FHIR_TASK_STATUS.values()) <= fhir


@pytest.mark.parametrize(
    ("state", "action", "allowed"),
    [
        (ReferralState.DRAFT, "publish", True),
        (ReferralState.OPEN, "publish", False),
        (ReferralState.OPEN, "republish", True),
        (ReferralState.PENDING_PLACEMENT, "republish", True),
        (ReferralState.DRAFT, "republish", False),
        (ReferralState.OPEN, "pending", True),
        (ReferralState.PENDING_PLACEMENT, "close", True),
        (ReferralState.CLOSED, "close", False),
        (ReferralState.CLOSED, "work", False),
        (ReferralState.DELETED, "republish", False),
        (ReferralState.DRAFT, "delete", True),
    ],
)
def test_lifecycle_transitions(state: ReferralState, action: str, allowed: bool) -> None:
    if allowed:
        check_transition("R-2026-000001", state, action)
    else:
        with pytest.raises(Conflict, match="R-2026-000001 is"):
            check_transition("R-2026-000001", state, action)


def test_age_is_days_since_first_publication_and_flags_over_sixty() -> None:
    published = datetime(2026, 1, 1, 12, tzinfo=UTC)
    assert age_days(None, published) is None
    assert age_days(published, datetime(2026, 3, 2, 12, tzinfo=UTC)) == 60
    assert not is_aging(60)
    assert is_aging(61)


def _actor(
    *grants: Grant, staff_id: int = 1, active: bool = True, mou: date | None = date(2026, 1, 1)
) -> Actor:
    return Actor(staff_id, "A", "a@x.org", active, mou, tuple(grants))


def test_inactive_or_unsigned_staff_can_do_nothing() -> None:
    require_may_act(_actor(), date(2026, 6, 1))
    with pytest.raises(Forbidden) as caught:
        require_may_act(_actor(active=False), date(2026, 6, 1))
    assert caught.value.message == "Your closeloop access was removed."
    assert caught.value.hint == "Ask your agency's security officer if you need it back."
    removed = replace(_actor(active=False), removed_on=date(2026, 5, 4))
    with pytest.raises(Forbidden) as caught:
        require_may_act(removed, date(2026, 6, 1))
    assert caught.value.message == "Your closeloop access was removed on 2026-05-04."
    with pytest.raises(Forbidden, match="user MOU"):
        require_may_act(_actor(mou=date(2025, 1, 1)), date(2026, 6, 1))
    with pytest.raises(Forbidden, match="user MOU"):
        require_may_act(_actor(mou=None), date(2026, 6, 1))


def test_providers_work_only_what_is_assigned_to_them() -> None:
    provider = _actor(Grant(Role.PROVIDER, program_id=5))
    require_may_work(provider, program_id=5, program_name="P", assignee_id=1, number="R-1")
    with pytest.raises(Forbidden, match="not assigned to you"):
        require_may_work(provider, program_id=5, program_name="P", assignee_id=2, number="R-1")
    with pytest.raises(Forbidden, match="no role at Q"):
        require_may_work(provider, program_id=6, program_name="Q", assignee_id=1, number="R-1")
    gatekeeper = _actor(Grant(Role.GATEKEEPER, program_id=5))
    require_may_work(gatekeeper, program_id=5, program_name="P", assignee_id=None, number="R-1")


def test_who_sees_a_referral() -> None:
    facts = {
        "primary_coordinator_id": 9,
        "county_ids": [1],
        "statewide": False,
        "recipients": [(5, 2)],
    }
    assert may_see_referral(_actor(Grant(Role.GATEKEEPER, program_id=5)), **facts)
    assert may_see_referral(_actor(Grant(Role.PROVIDER, program_id=5), staff_id=2), **facts)
    assert not may_see_referral(_actor(Grant(Role.PROVIDER, program_id=5), staff_id=3), **facts)
    assert not may_see_referral(_actor(Grant(Role.GATEKEEPER, program_id=6)), **facts)
    assert may_see_referral(_actor(Grant(Role.COORDINATOR, county_id=1)), **facts)
    assert not may_see_referral(_actor(Grant(Role.COORDINATOR, county_id=2)), **facts)
    assert may_see_referral(_actor(Grant(Role.COORDINATOR, county_id=None)), **facts)
    assert may_see_referral(_actor(staff_id=9), **facts)
    assert may_see_referral(_actor(Grant(Role.ADMIN)), **facts)
