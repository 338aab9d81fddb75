"""`/referral` text parsed into typed commands; pure, so every rule here is a unit test."""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from bot.commands import (
    AddNote,
    Assign,
    Close,
    MarkPending,
    Republish,
    Respond,
    SetStatus,
    WorkCommand,
    parse,
)
from bot.domain import vocab
from bot.domain.vocab import (
    DeclineReason,
    NeedOutcome,
    ProvisionReason,
    ResponseKind,
    Role,
    match_choice,
)
from bot.errors import InvalidInput
from bot.services.lookup import NUMBER_HINT
from handlers.slack.agreement import Agreement, parse_agreement

_NUMBER = re.compile(r"^(?:R-)?(\d{4})-(\d{1,6})$", re.IGNORECASE)
_MENTION = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")
_PROGRAM = re.compile(r"^program=(\S+)$", re.IGNORECASE)
SCOPES = ("open", "closed", "all", "mine", "unassigned", "overdue")
HELP_HINT = "Type /referral help to see every command with an example."

E = TypeVar("E", bound=enum.StrEnum)


@dataclass(frozen=True)
class Help:
    pass


@dataclass(frozen=True)
class ListReferrals:
    scope: str = "open"
    county: str | None = None
    need: str | None = None
    page: int = 1


@dataclass(frozen=True)
class Show:
    number: str


@dataclass(frozen=True)
class Digest:
    pass


@dataclass(frozen=True)
class Suspension:
    program: str
    suspend: bool


@dataclass(frozen=True)
class AskAccess:
    role: str
    program: str


@dataclass(frozen=True)
class DecideAccess:
    request_id: int
    approve: bool
    note: str | None = None


@dataclass(frozen=True)
class RevokeAccess:
    email: str
    reason: str | None = None


@dataclass(frozen=True)
class AccessQueue:
    pass


AccessCommand = AskAccess | DecideAccess | RevokeAccess | AccessQueue

SlackCommand = (
    Agreement | Help | ListReferrals | Show | Digest | Suspension | AccessCommand | WorkCommand
)


def parse_command(text: str) -> SlackCommand:
    words = text.split()
    if not words or words[0].lower() in ("help", "?"):
        return Help()
    verb, rest = words[0].lower(), words[1:]
    if verb == "list":
        return _list(rest)
    if verb == "digest":
        return Digest()
    if verb == "access":
        return _access(rest)
    if verb == "agreement":
        return parse_agreement(rest)
    if verb in ("suspend", "resume"):
        if not rest:
            raise InvalidInput(
                f"Say which program to {verb}.", field="program", hint=f"/referral {verb} KEY"
            )
        return Suspension(" ".join(rest), suspend=verb == "suspend")
    if verb not in _NEEDS_NUMBER:
        raise InvalidInput(f'"{words[0]}" is not a /referral command.', hint=HELP_HINT)
    number, program, rest = _number(verb, rest)
    return _NEEDS_NUMBER[verb](number, program, rest)


def referral_number(text: str) -> str:
    match = _NUMBER.match(text.strip())
    if match is None:
        raise InvalidInput(f'"{text}" is not a referral number.', field="number", hint=NUMBER_HINT)
    return f"R-{match.group(1)}-{int(match.group(2)):06d}"


def mentioned_user(text: str) -> str | None:
    """The user id in Slack's mention form `<@U123|name>`."""
    match = _MENTION.match(text.strip())
    return match.group(1) if match else None


def leading_choice(words: list[str], choices: type[E], *, field: str) -> tuple[E, str | None]:
    """The choice named by the longest leading run of words, and the words after it.

    "no vac beds full" -> (no vacancy, "beds full"); the one reader of every channel
    (`bot.domain.vocab.leading_choice`).
    """
    choice, count = vocab.leading_choice(words, choices, field=field)
    return choice, " ".join(words[count:]) or None


def _list(words: list[str]) -> ListReferrals:
    scope, county, need, page = "open", None, None, 1
    i = 0
    while i < len(words):
        word = words[i].lower()
        if word in SCOPES:
            scope = word
        elif word == "page" and i + 1 < len(words) and words[i + 1].isdigit():
            page = max(1, int(words[i + 1]))
            i += 1
        elif word == "need" and i + 1 < len(words):
            need = words[i + 1].upper()
            i += 1
        elif word == "county" and i + 1 < len(words):
            # County names can be several words ("St. Louis City"): up to the next keyword.
            end = i + 1
            while end < len(words) and words[end].lower() not in ("need", "page", *SCOPES):
                end += 1
            county = " ".join(words[i + 1 : end])
            i = end - 1
        else:
            raise InvalidInput(
                f'"{words[i]}" is not something I can list by.',
                hint="For example: /referral list open county Boone need RES page 2",
            )
        i += 1
    return ListReferrals(scope=scope, county=county, need=need, page=page)


ACCESS_HINT = (
    "For example: /referral access request gatekeeper heartland-res, /referral access pending, "
    "/referral access approve 12, /referral access deny 12 NOTE, /referral access revoke EMAIL."
)
_REQUEST_ID = re.compile(r"^#?(\d{1,9})$")
# Slack may send an email address as a link: <mailto:dana@agency.org|dana@agency.org>.
_MAILTO = re.compile(r"^<mailto:([^|>]+)(?:\|[^>]*)?>$", re.IGNORECASE)


def _access(words: list[str]) -> AccessCommand:
    """`access request ROLE PROGRAM`, `access pending`, `access approve|deny ID [note]`,
    `access revoke EMAIL [reason]`."""
    if not words:
        raise InvalidInput("Say what to do about access.", hint=ACCESS_HINT)
    action, rest = words[0].lower(), words[1:]
    if action == "request":
        role, program = leading_choice(rest, Role, field="role")
        if program is None:
            raise InvalidInput(
                f"Say which program you want to be a {role.value.replace('_', ' ')} of.",
                field="program",
                hint=f"/referral access request {role.value} PROGRAM-KEY",
            )
        return AskAccess(role.value, program)
    if action == "pending":
        return AccessQueue()
    if action in ("approve", "deny"):
        found = _REQUEST_ID.match(rest[0]) if rest else None
        if found is None:
            raise InvalidInput(
                f"Say which request to {action} by its number.",
                field="request_id",
                hint="/referral access pending lists them with their numbers.",
            )
        return DecideAccess(int(found.group(1)), action == "approve", " ".join(rest[1:]) or None)
    if action == "revoke":
        if not rest:
            raise InvalidInput(
                "Say whose access to remove, by their email address.",
                field="staff_email",
                hint="/referral access revoke dana@agency.org left the agency",
            )
        linked = _MAILTO.match(rest[0])
        email = linked.group(1) if linked else rest[0]
        return RevokeAccess(email, " ".join(rest[1:]) or None)
    raise InvalidInput(f'"{words[0]}" is not something I can do about access.', hint=ACCESS_HINT)


def _number(verb: str, words: list[str]) -> tuple[str, str | None, list[str]]:
    if not words:
        raise InvalidInput(
            f"Say which referral to {verb}.", field="number", hint=f"/referral {verb} R-2026-000042"
        )
    number = referral_number(words[0])
    rest = words[1:]
    program = None
    if rest and (found := _PROGRAM.match(rest[0])):
        program, rest = found.group(1), rest[1:]
    return number, program, rest


def _show(number: str, program: str | None, rest: list[str]) -> Show:
    return Show(number)


def _assign(reassign: bool) -> Callable[[str, str | None, list[str]], Assign]:
    def build(number: str, program: str | None, rest: list[str]) -> Assign:
        if not rest:
            verb = "reassign" if reassign else "assign"
            raise InvalidInput(
                f"Say who to {verb} {number} to.",
                field="person",
                hint=f"/referral {verb} {number} @person",
            )
        person = " ".join(rest)
        data = {"number": number, "provider": person, "reassign": reassign, "program": program}
        return parse(Assign, data)

    return build


def _respond(kind: ResponseKind) -> Callable[[str, str | None, list[str]], Respond]:
    def build(number: str, program: str | None, rest: list[str]) -> Respond:
        reason: str | None = None
        comment = " ".join(rest) or None
        if kind != ResponseKind.ACCEPT:
            choices = ProvisionReason if kind == ResponseKind.TENTATIVE else DeclineReason
            field = "provision reason" if kind == ResponseKind.TENTATIVE else "decline reason"
            found, comment = leading_choice(rest, choices, field=field)
            reason = found.value
        data = {
            "number": number,
            "kind": kind,
            "reason": reason,
            "comment": comment,
            "program": program,
        }
        return parse(Respond, data)

    return build


def _status(number: str, program: str | None, rest: list[str]) -> SetStatus:
    return parse(SetStatus, {"number": number, "status": " ".join(rest), "program": program})


def _note(number: str, program: str | None, rest: list[str]) -> AddNote:
    return parse(AddNote, {"number": number, "text": " ".join(rest), "program": program})


def _pending(number: str, program: str | None, rest: list[str]) -> MarkPending:
    return MarkPending(number=number)


def _close(number: str, program: str | None, rest: list[str]) -> Close:
    text = " ".join(rest)
    if ":" in text:
        said, _, why = text.partition(":")
        outcome = match_choice(said, NeedOutcome, field="need outcome")
        return parse(Close, {"number": number, "outcome": outcome, "reason": why.strip()})
    outcome, reason = leading_choice(rest, NeedOutcome, field="need outcome")
    return parse(Close, {"number": number, "outcome": outcome, "reason": reason})


def _republish(number: str, program: str | None, rest: list[str]) -> Republish:
    return Republish(number=number)


_NEEDS_NUMBER: dict[str, Callable[[str, str | None, list[str]], SlackCommand]] = {
    "show": _show,
    "view": _show,
    "assign": _assign(False),
    "reassign": _assign(True),
    "accept": _respond(ResponseKind.ACCEPT),
    "provision": _respond(ResponseKind.TENTATIVE),
    "tentative": _respond(ResponseKind.TENTATIVE),
    "decline": _respond(ResponseKind.DECLINE),
    "status": _status,
    "note": _note,
    "pending": _pending,
    "close": _close,
    "republish": _republish,
}
