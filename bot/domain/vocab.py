"""The fixed vocabularies of the domain: reasons, statuses, outcomes, and how people name them."""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import TypeVar

from bot.errors import InvalidInput


class ReferralState(enum.StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    PENDING_PLACEMENT = "pending_placement"
    CLOSED = "closed"
    DELETED = "deleted"


ACTIVE_STATES = frozenset({ReferralState.OPEN, ReferralState.PENDING_PLACEMENT})


class Urgency(enum.StrEnum):
    ROUTINE = "routine"
    URGENT = "urgent"
    EMERGENT = "emergent"


class Role(enum.StrEnum):
    COORDINATOR = "coordinator"
    GATEKEEPER = "gatekeeper"
    PROVIDER = "provider"
    SECURITY_OFFICER = "security_officer"
    ADMIN = "admin"


class AccessStatus(enum.StrEnum):
    """Where an access request stands: waiting for the security officer, or decided."""

    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"


class ResponseKind(enum.StrEnum):
    ACCEPT = "accept"
    TENTATIVE = "tentative"
    DECLINE = "decline"


class ProvisionReason(enum.StrEnum):
    PRE_PLACEMENT_VISIT = "pending pre-placement visit"
    FUNDING = "pending funding approval"
    STAFFING = "pending staffing"
    VACANCY = "pending a vacancy"
    OTHER = "other"


class DeclineReason(enum.StrEnum):
    NO_VACANCY = "no vacancy"
    MEDICAL = "cannot meet medical needs"
    BEHAVIOURAL = "cannot meet behavioural needs"
    LOCATION = "location"
    FUNDING = "funding"
    STAFFING = "staffing"
    OTHER = "other"


class ServiceStatus(enum.StrEnum):
    """The 13 service statuses of the referral-network guide."""

    ENROLLED = "enrolled in services"
    WAITING_LIST = "on waiting list"
    CLOSED_SUCCESS = "closed - successful completion"
    CLOSED_REFERRED = "closed - referred to other program"
    NOT_COMPLETED_DROPPED_OUT = "not completed - dropped out"
    NOT_COMPLETED_MOVED = "not completed - moved out of area"
    NOT_COMPLETED_WHEREABOUTS = "not completed - whereabouts unknown"
    NOT_STARTED_DECLINED = "not started - declined services"
    NOT_STARTED_MOVED = "not started - moved out of area"
    NOT_STARTED_WAITING_LIST = "not started - on waiting list"
    NOT_STARTED_REFERRED = "not started - referred to other program"
    NOT_STARTED_UNABLE_TO_CONTACT = "not started - unable to contact"
    OTHER = "other"


# HL7 FHIR R4 Task.status (http://hl7.org/fhir/task-status) for interoperability.
FHIR_TASK_STATUS: dict[ServiceStatus, str] = {
    ServiceStatus.ENROLLED: "in-progress",
    ServiceStatus.WAITING_LIST: "on-hold",
    ServiceStatus.CLOSED_SUCCESS: "completed",
    ServiceStatus.CLOSED_REFERRED: "completed",
    ServiceStatus.NOT_COMPLETED_DROPPED_OUT: "failed",
    ServiceStatus.NOT_COMPLETED_MOVED: "failed",
    ServiceStatus.NOT_COMPLETED_WHEREABOUTS: "failed",
    ServiceStatus.NOT_STARTED_DECLINED: "rejected",
    ServiceStatus.NOT_STARTED_MOVED: "cancelled",
    ServiceStatus.NOT_STARTED_WAITING_LIST: "on-hold",
    ServiceStatus.NOT_STARTED_REFERRED: "cancelled",
    ServiceStatus.NOT_STARTED_UNABLE_TO_CONTACT: "failed",
    ServiceStatus.OTHER: "in-progress",
}

# How a response is said: "Heartland Residential declined R-2026-000042" (every channel's texts).
RESPONSE_WORDS: dict[str, str] = {
    ResponseKind.ACCEPT: "accepted",
    ResponseKind.TENTATIVE: "tentatively accepted",
    ResponseKind.DECLINE: "declined",
}

# FHIR Task.status of a recipient program before any service status is set.
FHIR_TASK_STATUS_BY_RESPONSE: dict[ResponseKind | None, str] = {
    None: "requested",
    ResponseKind.ACCEPT: "accepted",
    ResponseKind.TENTATIVE: "received",
    ResponseKind.DECLINE: "rejected",
}


class NeedOutcome(enum.StrEnum):
    FULLY_MET = "fully met"
    PARTIALLY_MET = "partially met"
    NOT_MET = "not met"


class ConsentMethod(enum.StrEnum):
    ELECTRONIC = "electronic"
    TEXT_CODE = "code by text message"
    UPLOADED_SCAN = "uploaded scan"


class Channel(enum.StrEnum):
    """Where an action came from; recorded in the audit trail."""

    SLACK = "slack"
    EMAIL = "email"
    API = "api"
    WEB = "web"
    SCHEDULER = "scheduler"
    CLI = "cli"


E = TypeVar("E", bound=enum.StrEnum)


# The vocabulary is spelt the British way; the people writing to us mostly are not.
SPELLINGS = {"behavioral": "behavioural", "behavior": "behaviour"}
_SPELLING = re.compile(r"\b(" + "|".join(SPELLINGS) + r")\b", re.IGNORECASE)

# The longest reason, status or outcome runs to seven words ("not completed - moved out of
# area"); a longer leading run of words is never needed to name one.
MAX_CHOICE_WORDS = 8


def respell(text: str) -> str:
    """`text` with American spellings of the vocabulary's words in the British form it uses."""
    return _SPELLING.sub(lambda m: SPELLINGS[m.group(1).lower()], text)


def _normalise(text: str) -> str:
    return " ".join(text.lower().replace("_", " ").replace("–", "-").split())


@lru_cache(maxsize=4096)
def _squash(text: str) -> str:
    # Cached: every choice's value and name is squashed again for each text matched.
    return "".join(ch for ch in text.lower() if ch.isalnum())


def match_choice(text: str, choices: Iterable[E], *, field: str) -> E:
    """The one choice that `text` names: exact, or an unambiguous prefix, case-insensitive.

    Hyphens, spaces and punctuation are not significant ("not started declined" and
    "NOT-STARTED - DECL" both name the same status). Raises InvalidInput listing the choices.
    """
    options = list(choices)
    wanted = _squash(respell(text))
    if not wanted:
        raise InvalidInput(
            f"No {field} given.", field=field, hint=f"Choose one of: {_listing(options)}."
        )
    exact = [c for c in options if _squash(c.value) == wanted or _squash(c.name) == wanted]
    if exact:
        return exact[0]
    prefixed = [
        c
        for c in options
        if _squash(c.value).startswith(wanted) or _squash(c.name).startswith(wanted)
    ]
    if len(prefixed) == 1:
        return prefixed[0]
    if not prefixed:
        raise InvalidInput(
            f'"{_normalise(text)}" is not a {field} I know.',
            field=field,
            hint=f"Choose one of: {_listing(options)}.",
        )
    raise InvalidInput(
        f'"{_normalise(text)}" could be more than one {field}.',
        field=field,
        hint=f"Say which: {_listing(prefixed)}.",
    )


def leading_choice(words: Sequence[str], choices: Iterable[E], *, field: str) -> tuple[E, int]:
    """The choice named by the longest leading run of `words`, and how many words it took.

    "no vac beds full" -> (no vacancy, 2). When no run names one, the error for the first word
    is raised, which lists the valid choices (or says which ones it could be).
    """
    options = list(choices)
    if not words:
        match_choice("", options, field=field)
    for count in range(min(len(words), MAX_CHOICE_WORDS), 0, -1):
        try:
            return match_choice(" ".join(words[:count]), options, field=field), count
        except InvalidInput:
            continue
    match_choice(words[0], options, field=field)
    raise AssertionError("unreachable: match_choice raised for the first word")  # pragma: no cover


def read_reason(kind: ResponseKind, reason: str | None) -> str | None:
    """The reason a response carries: none for an acceptance, one from the list otherwise."""
    if kind == ResponseKind.ACCEPT:
        if reason and reason.strip():
            raise InvalidInput(
                "An acceptance takes no reason.",
                field="reason",
                hint="To accept with a condition, use tentative (a provision) instead.",
            )
        return None
    choices: type[ProvisionReason] | type[DeclineReason] = (
        ProvisionReason if kind == ResponseKind.TENTATIVE else DeclineReason
    )
    if not reason or not reason.strip():
        raise InvalidInput(
            f"A {_RESPONSE_NOUNS[kind]} needs a reason.",
            field="reason",
            hint="Choose one of: " + ", ".join(c.value for c in choices) + ".",
        )
    field = "provision reason" if kind == ResponseKind.TENTATIVE else "decline reason"
    return match_choice(reason, choices, field=field).value


_RESPONSE_NOUNS = {ResponseKind.TENTATIVE: "tentative acceptance", ResponseKind.DECLINE: "decline"}


def _listing(options: Iterable[enum.StrEnum]) -> str:
    return ", ".join(o.value for o in options)
