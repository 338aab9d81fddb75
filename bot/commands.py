"""Typed inputs of the use cases; a malformed one becomes InvalidInput naming the field."""

from __future__ import annotations

from datetime import date
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.domain.capacity import CapacityStatus
from bot.domain.lifecycle import MAX_NEEDS
from bot.domain.vocab import ConsentMethod, NeedOutcome, Urgency
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
