"""Clients and their consents: duplicate detection first, a year of consent, revocable."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.audit import record
from bot.commands import NewClient, NewConsent, parse
from bot.context import now
from bot.domain.permissions import Actor, require_coordinator
from bot.domain.vocab import Channel
from bot.errors import Conflict, NotFound
from bot.services.agreements import rejoin_consented, withdraw_uncovered
from bot.services.lookup import counties_named, programs_named
from storage.models import Client, Consent

CONSENT_VALID_DAYS = 365


class DuplicateClient(Conflict):
    """The client already exists; `match_id` names the existing record."""

    def __init__(self, match: Client) -> None:
        super().__init__(
            f"This client already exists (client {match.id}, born {match.birth_date:%Y-%m-%d}).",
            field="client",
            hint="Use the existing client instead of creating a second one.",
        )
        self.match_id = match.id


def _digits(phone: str | None) -> str:
    digits = re.sub(r"\D", "", phone or "")
    return digits[-10:]


def _address_key(address: str | None) -> str:
    return re.sub(r"[^a-z0-9]", "", (address or "").lower())


def find_matches(
    session: Session,
    *,
    first_name: str,
    last_name: str,
    birth_date: date,
    phone: str | None,
    address: str | None,
) -> list[Client]:
    """Same first name, last name and date of birth, plus the same phone or address."""
    candidates = session.scalars(
        select(Client).where(
            func.lower(Client.first_name) == first_name.strip().lower(),
            func.lower(Client.last_name) == last_name.strip().lower(),
            Client.birth_date == birth_date,
        )
    ).all()
    phone_key, address_key = _digits(phone), _address_key(address)
    return [
        c
        for c in candidates
        if (phone_key and _digits(c.phone) == phone_key)
        or (address_key and _address_key(c.address) == address_key)
    ]


def create_client(
    session: Session, *, actor: Actor, data: NewClient | dict[str, Any], channel: Channel
) -> Client:
    require_coordinator(actor)
    new = parse(NewClient, data)
    matches = find_matches(
        session,
        first_name=new.first_name,
        last_name=new.last_name,
        birth_date=new.birth_date,
        phone=new.phone,
        address=new.address,
    )
    if matches:
        raise DuplicateClient(matches[0])
    county = counties_named(session, [new.county], field="county")[0] if new.county else None
    client = Client(
        first_name=new.first_name,
        last_name=new.last_name,
        birth_date=new.birth_date,
        gender=new.gender,
        county_id=county.id if county else None,
        address=new.address,
        phone=new.phone,
        external_id=new.external_id,
        guardians=new.guardians,
        created_at=now(session),
        created_by_id=actor.staff_id,
    )
    session.add(client)
    session.flush()
    record(session, actor=actor, channel=channel, action="client_created", client_id=client.id)
    return client


def sign_consent(
    session: Session, *, actor: Actor, data: NewConsent | dict[str, Any], channel: Channel
) -> Consent:
    """Record a signed release of information, valid for one year from signing."""
    require_coordinator(actor)
    new = parse(NewConsent, data)
    client = session.get(Client, new.client_id)
    if client is None:
        raise NotFound(f"There is no client {new.client_id}.", field="client_id")
    signed_at = now(session)
    consent = Consent(
        client_id=client.id,
        info_types=new.info_types,
        signed_by=new.signed_by,
        signer_is_guardian=new.signer_is_guardian,
        method=new.method,
        signed_at=signed_at,
        expires_on=date.fromordinal(signed_at.date().toordinal() + CONSENT_VALID_DAYS),
        recorded_by_id=actor.staff_id,
    )
    consent.programs = programs_named(session, new.programs, field="programs")
    session.add(consent)
    session.flush()
    record(
        session,
        actor=actor,
        channel=channel,
        action="consent_signed",
        client_id=client.id,
        consent_id=consent.id,
        programs=[p.key for p in consent.programs],
        method=str(new.method),
    )
    rejoin_consented(session, consent, actor=actor, channel=channel)
    return consent


def revoke_consent(session: Session, *, actor: Actor, consent_id: int, channel: Channel) -> Consent:
    require_coordinator(actor)
    consent = session.get(Consent, consent_id)
    if consent is None:
        raise NotFound(f"There is no consent {consent_id}.", field="consent_id")
    if consent.revoked_at is not None:
        return consent
    consent.revoked_at = now(session)
    record(
        session,
        actor=actor,
        channel=channel,
        action="consent_revoked",
        client_id=consent.client_id,
        consent_id=consent.id,
    )
    withdraw_uncovered(
        session, client_id=consent.client_id, actor=actor, channel=channel, why="revoked"
    )
    return consent
