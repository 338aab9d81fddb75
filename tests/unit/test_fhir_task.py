"""The Task status of a recipient program, and the IG's state machine, as plain tables."""

from __future__ import annotations

import pytest

from bot.domain.fhir_task import TRANSITIONS, IllegalTransition, check_task_transition, task_status
from bot.domain.vocab import (
    FHIR_TASK_STATUS,
    FHIR_TASK_STATUS_BY_RESPONSE,
    ReferralState,
    ResponseKind,
    ServiceStatus,
)

OPEN = ReferralState.OPEN


@pytest.mark.parametrize(
    ("state", "active", "assigned", "response", "service", "expected"),
    [
        (OPEN, True, False, None, None, "requested"),
        (OPEN, True, True, None, None, "received"),
        (OPEN, True, True, ResponseKind.TENTATIVE, None, "received"),
        (OPEN, True, True, ResponseKind.ACCEPT, None, "accepted"),
        (OPEN, True, True, ResponseKind.DECLINE, None, "rejected"),
        (OPEN, True, True, ResponseKind.ACCEPT, ServiceStatus.ENROLLED, "in-progress"),
        (OPEN, True, True, ResponseKind.ACCEPT, ServiceStatus.WAITING_LIST, "on-hold"),
        (OPEN, True, True, ResponseKind.ACCEPT, ServiceStatus.CLOSED_SUCCESS, "completed"),
        (OPEN, True, True, ResponseKind.ACCEPT, ServiceStatus.NOT_COMPLETED_MOVED, "failed"),
        (OPEN, False, False, None, None, "cancelled"),
        (ReferralState.DELETED, True, True, ResponseKind.ACCEPT, None, "cancelled"),
        (ReferralState.CLOSED, True, False, None, None, "cancelled"),
        (ReferralState.CLOSED, True, True, ResponseKind.ACCEPT, None, "accepted"),
    ],
)
def test_task_status(
    state: ReferralState,
    active: bool,
    assigned: bool,
    response: ResponseKind | None,
    service: ServiceStatus | None,
    expected: str,
) -> None:
    assert (
        task_status(
            referral_state=state,
            active=active,
            assigned=assigned,
            response=response,
            service_status=service,
        )
        == expected
    )


def test_every_status_the_mapping_gives_is_in_the_igs_value_set() -> None:

    assert set(FHIR_TASK_STATUS.values()) | set(FHIR_TASK_STATUS_BY_RESPONSE.values()) <= set(
        TRANSITIONS
    )


def test_final_statuses_go_nowhere_and_the_refusal_names_the_transition() -> None:
    check_task_transition(1, "requested", "accepted")
    check_task_transition(1, "accepted", "accepted")
    with pytest.raises(IllegalTransition) as caught:
        check_task_transition(7, "completed", "in-progress")
    assert str(caught.value) == (
        "Task 7 cannot go from completed to in-progress. "
        "From completed a referral Task may go to nothing: completed is final."
    )
    with pytest.raises(IllegalTransition) as unknown:
        check_task_transition(7, "requested", "draft")
    assert unknown.value.message == '"draft" is not a status of a referral Task.'
