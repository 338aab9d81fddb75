"""Typed inputs of the use cases; a malformed one becomes InvalidInput naming the field."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from bot.domain.capacity import CapacityStatus
from bot.domain.lifecycle import MAX_NEEDS
from bot.domain.vocab import (
    ConsentMethod,
    NeedOutcome,
    ResponseKind,
    ServiceStatus,
    Urgency,
    match_choice,
    read_reason,
)
from bot.errors import InvalidInput

M = TypeVar("M", bound=BaseModel)

# Ids are 32-bit in the database: a larger one is bad input, not a crash in the driver.
MAX_ID = 2**31 - 1


class Command(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    @field_validator("*")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        # PostgreSQL text cannot hold NUL: refused here as bad input, not a driver error.
        texts = value if isinstance(value, list) else [value]
        if any(isinstance(text, str) and "\x00" in text for text in texts):
            raise ValueError("contains a NUL character")
        return value


class ReferralDraft(Command):
    client_id: int = Field(ge=1, le=MAX_ID)
    facility_code: str = Field(pattern=r"^[A-Za-z0-9]{3}$")
    urgency: Urgency = Urgency.ROUTINE
    needs: list[str]
    statewide: bool = False
    counties: list[str] = Field(default_factory=list)
    exclude_programs: list[str] = Field(default_factory=list)
    target_programs: list[str] | None = None
    primary_coordinator: str | None = None
    summary: str | None = Field(default=None, max_length=2000)

    @field_validator("needs")
    @classmethod
    def _needs(cls, value: list[str]) -> list[str]:
        codes = list(dict.fromkeys(v.strip().upper() for v in value if v.strip()))
        if not codes:
            raise ValueError("a referral needs at least one service code")
        if len(codes) > MAX_NEEDS:
            raise ValueError(f"a referral has at most {MAX_NEEDS} needs; {len(codes)} were given")
        return codes


class ReferralEdit(Command):
    urgency: Urgency | None = None
    needs: list[str] | None = None
    statewide: bool | None = None
    counties: list[str] | None = None
    exclude_programs: list[str] | None = None
    summary: str | None = Field(default=None, max_length=2000)

    @field_validator("needs")
    @classmethod
    def _needs(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else ReferralDraft._needs(value)


class NewClient(Command):
    first_name: str = Field(min_length=1, max_length=100)
    last_name: str = Field(min_length=1, max_length=100)
    birth_date: date
    gender: str | None = None
    county: str | None = None
    address: str | None = None
    phone: str | None = None
    external_id: str | None = None
    guardians: list[str] = Field(default_factory=list)


class NewConsent(Command):
    client_id: int = Field(ge=1, le=MAX_ID)
    # The programs it covers, or every participating program (`any_program`).
    programs: list[str] = Field(default_factory=list)
    any_program: bool = False
    info_types: list[str] = Field(min_length=1)
    signed_by: str = Field(min_length=1, max_length=200)
    signer_is_guardian: bool = False
    method: ConsentMethod
    # The day it was signed (a paper form from last month); today when not given.
    signed_on: date | None = None
    # Where the signed paper is kept: required for an uploaded scan.
    reference: str | None = Field(default=None, max_length=200)


class CapacityChange(Command):
    """A program's capacity as its gatekeeper states it (bot/domain/capacity.py)."""

    status: CapacityStatus
    waitlist: int | None = Field(default=None, ge=0, le=100_000)
    until: date | None = None


class Closing(Command):
    outcome: NeedOutcome
    reason: str | None = None


# The work verbs: what a person does to a referral, whichever channel they do it from. Every
# channel's parser builds one of these and `bot.services.verbs.apply` carries it out, so the same
# words read the same way in Slack, email, the web and the API (the validators below are the one
# reader of choices: the prefix rule and spelling variants of `match_choice`).

_NUMBER = re.compile(r"^(?:R-)?(\d{4})-(\d{1,6})$", re.IGNORECASE)


class Verb(Command):
    """A work verb on one referral; `program` names the recipient program acted for when the
    person works at more than one."""

    number: str = Field(min_length=1, max_length=40)
    program: str | None = Field(default=None, max_length=200)

    @field_validator("number")
    @classmethod
    def _number(cls, value: str) -> str:
        # "2026-42" and "r-2026-000042" name R-2026-000042; anything else is refused on lookup.
        match = _NUMBER.match(value)
        return f"R-{match.group(1)}-{int(match.group(2)):06d}" if match else value

    @field_validator("program")
    @classmethod
    def _program(cls, value: str | None) -> str | None:
        return value or None

    def arguments(self) -> dict[str, Any]:
        """The command's fields as its use case's keyword arguments."""
        return {name: getattr(self, name) for name in type(self).model_fields if name != "verb"}


class Assign(Verb):
    """Give the referral to a provider (a gatekeeper), or hand it on (`reassign`): a gatekeeper
    moving it, or the provider holding it handing it back to another provider of the program."""

    verb: Literal["assign"] = "assign"
    provider: int | str
    reassign: bool = False

    @field_validator("provider")
    @classmethod
    def _provider(cls, value: int | str) -> int | str:
        if isinstance(value, str) and not value.strip():
            raise ValueError("say who to assign the referral to")
        return value


class Respond(Verb):
    """Accept, tentatively accept with a provision, or decline with a reason."""

    verb: Literal["respond"] = "respond"
    kind: ResponseKind
    reason: str | None = None
    comment: str | None = None

    @field_validator("kind", mode="before")
    @classmethod
    def _kind(cls, value: object) -> ResponseKind:
        return match_choice(str(value), ResponseKind, field="response")

    @field_validator("reason")
    @classmethod
    def _reason(cls, value: str | None, info: ValidationInfo) -> str | None:
        kind = info.data.get("kind")
        return read_reason(kind, value) if kind is not None else value

    @field_validator("comment")
    @classmethod
    def _comment(cls, value: str | None) -> str | None:
        return value or None


class SetStatus(Verb):
    verb: Literal["status"] = "status"
    status: ServiceStatus

    @field_validator("status", mode="before")
    @classmethod
    def _status(cls, value: object) -> ServiceStatus:
        return match_choice(str(value), ServiceStatus, field="service status")


class AddNote(Verb):
    verb: Literal["note"] = "note"
    text: str

    @field_validator("text")
    @classmethod
    def _text(cls, value: str) -> str:
        if not value:
            raise InvalidInput(
                "The note is empty.",
                field="text",
                hint="Write what happened, e.g. note left a voicemail.",
            )
        return value


class MarkPending(Verb):
    verb: Literal["pending"] = "pending"


class Close(Verb):
    """Close the loop with the need's outcome (and why, unless fully met)."""

    verb: Literal["close"] = "close"
    outcome: NeedOutcome
    reason: str | None = Field(default=None, max_length=2000)

    @field_validator("outcome", mode="before")
    @classmethod
    def _outcome(cls, value: object) -> NeedOutcome:
        return match_choice(str(value), NeedOutcome, field="need outcome")

    @field_validator("reason")
    @classmethod
    def _why(cls, value: str | None) -> str | None:
        return value or None


class Republish(Verb):
    verb: Literal["republish"] = "republish"


WorkCommand = Assign | Respond | SetStatus | AddNote | MarkPending | Close | Republish
# For a body that may be any of them (the `verb` field says which).
TaggedWorkCommand = Annotated[WorkCommand, Field(discriminator="verb")]
# One example of each work verb as a person writes it: what follows the verb word (an email
# reply) or the referral number (Slack). Every text that shows how to write a command takes its
# examples from here (`example`, a template global too).
EXAMPLES: dict[str, str] = {
    "accept": "",
    "provision": "funding: waiting on approval",
    "decline": "no vacancy: full until June",
    "assign": "dana@agency.org",
    "status": "enrolled",
    "note": "called the family",
    "pending": "",
    "close": "partially met: moved away",
    "republish": "",
}
EXAMPLE_NUMBER = "R-2026-000042"


def example(verb: str, number: str | None = None, *, slash: bool = False) -> str:
    """ "decline no vacancy: full until June"; with a number, after the verb (a reply to a
    message listing several, or Slack); `slash`: as a /referral command."""
    words = [verb, number or "", EXAMPLES[verb]]
    said = " ".join(w for w in words if w)
    return f"/referral {said}" if slash else said


WORK_COMMANDS = (Assign, Respond, SetStatus, AddNote, MarkPending, Close, Republish)


def parse(model: type[M], data: dict[str, Any] | M) -> M:
    """Validate `data` into `model`; the first problem becomes an InvalidInput naming its field."""
    if isinstance(data, model):
        return data
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or model.__name__
        message = str(first["msg"]).removeprefix("Value error, ")
        raise InvalidInput(f"{field}: {message}.", field=field) from None
