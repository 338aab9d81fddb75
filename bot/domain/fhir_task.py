"""A referral's program as an SDOH Clinical Care Task: its status, and the transitions allowed."""

from __future__ import annotations

from bot.domain.vocab import (
    FHIR_TASK_STATUS,
    FHIR_TASK_STATUS_BY_RESPONSE,
    ReferralState,
    ResponseKind,
    ServiceStatus,
    Urgency,
)
from bot.errors import UserError

# The IG's value set for TaskForReferralManagement.status (SDOHCCValueSetReferralTaskStatus).
TASK_STATUSES = (
    "requested",
    "received",
    "accepted",
    "rejected",
    "in-progress",
    "on-hold",
    "completed",
    "cancelled",
    "failed",
)

# The IG's state machine for a referral Task ("Checking Task status"): from each status, where it
# may go. rejected, completed, cancelled and failed are final.
TRANSITIONS: dict[str, frozenset[str]] = {
    "requested": frozenset({"received", "accepted", "rejected", "cancelled"}),
    "received": frozenset({"accepted", "rejected", "cancelled"}),
    "accepted": frozenset({"in-progress", "on-hold", "cancelled", "completed", "failed"}),
    "in-progress": frozenset({"on-hold", "completed", "cancelled", "failed"}),
    "on-hold": frozenset({"in-progress", "completed", "cancelled", "failed"}),
    "rejected": frozenset(),
    "completed": frozenset(),
    "cancelled": frozenset(),
    "failed": frozenset(),
}

# FHIR request-priority for the referral's urgency.
PRIORITY = {Urgency.ROUTINE: "routine", Urgency.URGENT: "urgent", Urgency.EMERGENT: "stat"}
URGENCY = {"routine": Urgency.ROUTINE, "urgent": Urgency.URGENT, "asap": Urgency.URGENT}
URGENCY["stat"] = Urgency.EMERGENT


class IllegalTransition(UserError):
    """A status change the IG's state machine does not allow."""

    status = 422


def task_status(
    *,
    referral_state: ReferralState,
    active: bool,
    assigned: bool,
    response: ResponseKind | None,
    service_status: ServiceStatus | None,
) -> str:
    """The Task status of one recipient program, from what closeloop records."""
    if referral_state == ReferralState.DELETED or not active:
        return "cancelled"
    if service_status is not None:
        return FHIR_TASK_STATUS[service_status]
    if response is not None:
        return FHIR_TASK_STATUS_BY_RESPONSE[response]
    if referral_state == ReferralState.CLOSED:
        return "cancelled"
    # Assigned to a provider: the program has the referral in hand, not yet decided.
    return "received" if assigned else "requested"


def check_task_transition(task_id: int, current: str, wanted: str) -> None:
    """Raise IllegalTransition naming the transition when the state machine refuses it."""
    if wanted not in TASK_STATUSES:
        raise IllegalTransition(
            f'"{wanted}" is not a status of a referral Task.',
            field="Task.status",
            hint="Use one of: " + ", ".join(TASK_STATUSES) + ".",
        )
    allowed = TRANSITIONS[current]
    if wanted != current and wanted not in allowed:
        onward = ", ".join(sorted(allowed)) if allowed else f"nothing: {current} is final"
        raise IllegalTransition(
            f"Task {task_id} cannot go from {current} to {wanted}.",
            field="Task.status",
            hint=f"From {current} a referral Task may go to {onward}.",
        )
