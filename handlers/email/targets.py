"""The referral an email's command acts on: its token's, or one listed in the message it answers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from handlers.email.commands import ParsedCommand
from handlers.email.refusals import (
    HINT_NEEDS_NUMBER,
    HINT_NOT_LISTED,
    HINT_OTHER_REFERRAL,
    MSG_GONE,
    MSG_NEEDS_NUMBER,
    MSG_NOT_LISTED,
    MSG_OTHER_REFERRAL,
    Refused,
)
from handlers.email.tokens import TokenClaims
from storage.models import OutboxMessage, Referral, Staff


def command_target(
    session: Session,
    claims: TokenClaims,
    staff: Staff,
    referral: Referral | None,
    command: ParsedCommand,
    read_as: str,
) -> Referral:
    """The referral the command acts on: the token's, or for a message listing several, the
    one the command names, which must be listed in that message."""
    named = command.number
    if referral is not None:
        if named is not None and named != referral.number:
            raise Refused(
                "wrong_referral",
                MSG_OTHER_REFERRAL.format(named=named, number=referral.number),
                hint=HINT_OTHER_REFERRAL.format(named=named),
                number=referral.number,
                referral_id=referral.id,
                read_as=read_as,
            )
        return referral
    if named is None:
        raise Refused("needs_number", MSG_NEEDS_NUMBER, hint=HINT_NEEDS_NUMBER, read_as=read_as)
    listing = session.get(OutboxMessage, claims.subject_id)
    if (
        listing is None
        or listing.staff_id != staff.id
        or named not in set(numbers_in(listing.payload))
    ):
        raise Refused(
            "wrong_referral",
            MSG_NOT_LISTED.format(named=named),
            hint=HINT_NOT_LISTED,
            read_as=read_as,
        )
    target = session.scalar(select(Referral).where(Referral.number == named))
    if target is None:
        raise Refused("wrong_referral", MSG_GONE, read_as=read_as)
    return target


def numbers_in(value: Any) -> Iterator[str]:
    """Every referral number a message's payload lists (its items, at any depth)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "number" and isinstance(item, str):
                yield item
            else:
                yield from numbers_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from numbers_in(item)
