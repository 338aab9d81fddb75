"""The referring side's `/referral` verbs (client, new, programs, capacity, edit, delete,
consent) read into
typed commands: pure, no Slack calls."""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain.capacity import SetCapacity, read_capacity
from bot.errors import InvalidInput
from handlers.slack.commands import referral_number

VERBS = frozenset({"client", "new", "programs", "capacity", "edit", "delete", "consent"})
CAPACITY_HINT = (
    "For example: /referral capacity waitlist 12, /referral capacity no capacity until "
    "2026-05-01, /referral capacity open program=heartland-res."
)
PROGRAMS_HINT = "For example: /referral programs need RES county Boone"
DELETE_HINT = "For example: /referral delete R-2026-000042 entered twice"


@dataclass(frozen=True)
class FindClient:
    text: str


@dataclass(frozen=True)
class NewReferral:
    client_id: int | None = None


@dataclass(frozen=True)
class FindPrograms:
    need: str | None = None
    county: str | None = None


@dataclass(frozen=True)
class EditReferral:
    number: str


@dataclass(frozen=True)
class DeleteReferral:
    number: str
    reason: str


@dataclass(frozen=True)
class RecordConsent:
    client_id: int


ReferringCommand = (
    FindClient
    | NewReferral
    | FindPrograms
    | SetCapacity
    | EditReferral
    | DeleteReferral
    | RecordConsent
)


def is_referring(text: str) -> bool:
    words = text.split()
    return bool(words) and words[0].lower() in VERBS


def parse_referring(text: str) -> ReferringCommand:
    words = text.split()
    verb, rest = words[0].lower(), words[1:]
    if verb == "client":
        if not rest:
            raise InvalidInput(
                "Say who to look for.",
                field="q",
                hint="For example: /referral client Maria Garcia 1990-04-02",
            )
        return FindClient(" ".join(rest))
    if verb == "new":
        if rest and not rest[0].isdigit():
            raise InvalidInput(
                f'"{rest[0]}" is not a client number.',
                field="client",
                hint="/referral new, or /referral new CLIENT-NUMBER from /referral client.",
            )
        return NewReferral(int(rest[0]) if rest else None)
    if verb == "programs":
        return _programs(rest)
    if verb == "capacity":
        return _capacity(rest)
    if verb == "delete":
        return _delete(rest)
    if verb == "consent":
        if len(rest) != 1 or not rest[0].lstrip("#").isdigit():
            raise InvalidInput(
                "Say whose consent to record: the client's number.",
                field="client",
                hint="/referral consent CLIENT-NUMBER, the number from /referral client.",
            )
        return RecordConsent(int(rest[0].lstrip("#")))
    if not rest:
        raise InvalidInput("Say which referral to edit.", field="number", hint="/referral edit R-…")
    return EditReferral(referral_number(rest[0]))


def _programs(words: list[str]) -> FindPrograms:
    need = county = None
    i = 0
    while i < len(words):
        word = words[i].lower()
        if word == "need" and i + 1 < len(words):
            need, i = words[i + 1].upper(), i + 2
        elif word == "county" and i + 1 < len(words):
            end = i + 1
            while end < len(words) and words[end].lower() != "need":
                end += 1
            county, i = " ".join(words[i + 1 : end]), end
        else:
            raise InvalidInput(
                f'"{words[i]}" is not something I can look up by.', hint=PROGRAMS_HINT
            )
    return FindPrograms(need, county)


def _delete(words: list[str]) -> DeleteReferral:
    if not words:
        raise InvalidInput(
            "Say which referral to delete, and why.", field="number", hint=DELETE_HINT
        )
    number = referral_number(words[0])
    reason = " ".join(words[1:])
    if not reason:
        raise InvalidInput(
            f"Say why {number} is deleted: the reason is required.",
            field="reason",
            hint=DELETE_HINT,
        )
    return DeleteReferral(number, reason)


def _capacity(words: list[str]) -> SetCapacity:
    return read_capacity(words, hint=CAPACITY_HINT)


# --- answers -----------------------------------------------------------------------------------
