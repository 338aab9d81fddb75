"""Clients and their consents: search first, duplicates caught, a year of consent, revocable."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from bot.audit import record
from bot.commands import NewClient, NewConsent, parse
from bot.context import now, today
from bot.domain.identity import Person, external_key, fold, likely_same, phone_key
from bot.domain.lifecycle import CONSENT_VALID_DAYS
from bot.domain.permissions import Actor, require_coordinator
from bot.domain.vocab import Channel, ConsentMethod
from bot.errors import Conflict, InvalidInput, NotFound
from bot.services.agreements import rejoin_consented, withdraw_uncovered
from bot.services.lookup import counties_named, programs_named
from storage.models import Client, Consent

SEARCH_LIMIT = 20
# A candidate pool for duplicate checks: people born that day, or sharing a phone or an id.
_POOL_LIMIT = 500


@dataclass(frozen=True)
class ClientMatch:
    """A known client that is likely the person being created, and the fields that agree.
    Plain values: the refusal carrying it outlives the transaction that found it."""

    client_id: int
    first_name: str
    last_name: str
    birth_date: date
    county: str | None
    fields: list[str]


class DuplicateClient(Conflict):
    """The client is likely already known; `matches` lists them (the first is `match_id`)."""

    def __init__(self, matches: list[ClientMatch]) -> None:
        first = matches[0]
        more = f" and {len(matches) - 1} more" if len(matches) > 1 else ""
        super().__init__(
            f"This client may already exist (client {first.client_id}, born "
            f"{first.birth_date:%Y-%m-%d}, matching {', '.join(matches[0].fields)}){more}.",
            field="client",
            hint="Use the existing client, or confirm that this is a different person.",
        )
        self.matches = matches
        self.match_id = first.client_id


def person_of(client: Client | NewClient) -> Person:
    return Person(
        first_name=client.first_name,
        last_name=client.last_name,
        birth_date=client.birth_date,
        phone=client.phone,
        address=client.address,
        external_id=client.external_id,
    )


def find_matches(session: Session, new: Person) -> list[ClientMatch]:
    """Known clients likely to be `new` (bot/domain/identity.py), best first."""
    conditions: list[ColumnElement[bool]] = [Client.birth_date == new.birth_date]
    phone, external = phone_key(new.phone), external_key(new.external_id)
    if phone:
        conditions.append(Client.phone_key == phone)
    if external:
        conditions.append(Client.external_key == external)
    pool = session.scalars(
        select(Client).where(or_(*conditions)).order_by(Client.id).limit(_POOL_LIMIT)
    ).all()
    matches = []
    for client in pool:
        fields = likely_same(new, person_of(client))
        if fields is not None:
            county = client.county.name if client.county else None
            matches.append(
                ClientMatch(
                    client.id,
                    client.first_name,
                    client.last_name,
                    client.birth_date,
                    county,
                    fields,
                )
            )
    matches.sort(key=lambda m: (-len(m.fields), m.client_id))
    return matches


def set_keys(client: Client) -> None:
    """The folded copies that search and duplicate checks read."""
    client.first_key = fold(client.first_name)[:100]
    client.last_key = fold(client.last_name)[:100]
    client.phone_key = phone_key(client.phone)
    client.external_key = external_key(client.external_id)


def create_client(
    session: Session,
    *,
    actor: Actor,
    data: NewClient | dict[str, Any],
    channel: Channel,
    different_from: Iterable[int] = (),
) -> Client:
    """A new client, unless likely already known. The coordinator may insist, naming the
    likely matches as different people: that statement is kept in the audit trail."""
    require_coordinator(actor)
    new = parse(NewClient, data)
    declared = set(different_from)
    matches = find_matches(session, person_of(new))
    unanswered = [m for m in matches if m.client_id not in declared]
    if unanswered:
        raise DuplicateClient(unanswered)
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
    set_keys(client)
    session.add(client)
    session.flush()
    record(session, actor=actor, channel=channel, action="client_created", client_id=client.id)
    for match in matches:
        record(
            session,
            actor=actor,
            channel=channel,
            action="client_declared_different",
            client_id=client.id,
            other_client_id=match.client_id,
            matched=match.fields,
        )
    return client


# --- search ------------------------------------------------------------------------------------

_ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_US_DATE = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")
_PHONEISH = re.compile(r"^[\d()+.\-\s]{7,}$")


@dataclass(frozen=True)
class SearchTerms:
    """What a search box's text names: words of a name, a birth date, a phone, an id."""

    names: tuple[str, ...] = ()
    birth_date: date | None = None
    phone: str | None = None
    external: str | None = None

    @property
    def kinds(self) -> list[str]:
        kinds = ["name"] if self.names else []
        kinds += ["birth_date"] if self.birth_date else []
        kinds += ["phone"] if self.phone else []
        kinds += ["external_id"] if self.external else []
        return kinds


def search_terms(text: str) -> SearchTerms:
    """Read "María García 1990-04-02", "573-555-0100", "MO-12345" or "4/2/1990"."""
    words = text.replace(",", " ").split()
    if not words:
        raise InvalidInput(
            "Say who to look for.",
            field="q",
            hint="A name, a date of birth (YYYY-MM-DD), a phone number or an external id.",
        )
    names: list[str] = []
    birth: date | None = None
    phone = external = None
    joined = " ".join(words)
    if _date_of(joined) is None and _PHONEISH.match(joined) and phone_key(joined):
        return SearchTerms(phone=phone_key(joined), external=external_key(joined))
    for word in words:
        found = _date_of(word)
        if found is not None:
            birth = found
        elif any(ch.isdigit() for ch in word):
            key = phone_key(word) if _PHONEISH.match(word) else None
            phone = key or phone
            external = external_key(word) if key is None or word.isdigit() else external
        else:
            names += fold(word).split()
    return SearchTerms(tuple(names), birth, phone, external)


def _date_of(word: str) -> date | None:
    iso, us = _ISO_DATE.match(word), _US_DATE.match(word)
    try:
        if iso:
            return date(int(iso.group(1)), int(iso.group(2)), int(iso.group(3)))
        if us:
            return date(int(us.group(3)), int(us.group(1)), int(us.group(2)))
    except ValueError:
        raise InvalidInput(f'"{word}" is not a date.', field="q") from None
    return None


def search_clients(session: Session, *, actor: Actor, text: str, channel: Channel) -> list[Client]:
    """Clients matching every term given (a phone-or-id term matches either), at most 20;
    for coordinators, and audited with the ids shown."""
    require_coordinator(actor)
    terms = search_terms(text)
    query = select(Client)
    for word in terms.names:
        like = word.replace("\\", "").replace("%", "").replace("_", "")
        query = query.where(
            or_(
                Client.first_key.startswith(like),
                Client.first_key.contains(" " + like),
                Client.last_key.startswith(like),
                Client.last_key.contains(" " + like),
            )
        )
    if terms.birth_date:
        query = query.where(Client.birth_date == terms.birth_date)
    either: list[ColumnElement[bool]] = []
    if terms.phone:
        either.append(Client.phone_key == terms.phone)
    if terms.external:
        either.append(Client.external_key == terms.external)
    if either:
        query = query.where(or_(*either))
    found = list(
        session.scalars(
            query.order_by(Client.last_key, Client.first_key, Client.id).limit(SEARCH_LIMIT)
        )
    )
    record(
        session,
        actor=actor,
        channel=channel,
        action="client_searched",
        searched_by=terms.kinds,
        client_ids=[c.id for c in found],
    )
    return found


def view_client(session: Session, *, actor: Actor, client_id: int, channel: Channel) -> Client:
    """One client with their consents, for a coordinator at intake; the read is audited."""
    require_coordinator(actor)
    client = session.get(Client, client_id)
    if client is None:
        raise NotFound(f"There is no client {client_id}.", field="client_id")
    record(session, actor=actor, channel=channel, action="client_data_viewed", client_id=client.id)
    return client


# --- consent -----------------------------------------------------------------------------------


def sign_consent(
    session: Session, *, actor: Actor, data: NewConsent | dict[str, Any], channel: Channel
) -> Consent:
    """Record a signed release of information, valid for one year from the day of signing
    (which may be in the past: a paper form from last month)."""
    require_coordinator(actor)
    new = parse(NewConsent, data)
    client = session.get(Client, new.client_id)
    if client is None:
        raise NotFound(f"There is no client {new.client_id}.", field="client_id")
    day = today(session)
    signed_on = new.signed_on or day
    expires_on = signed_on + timedelta(days=CONSENT_VALID_DAYS)
    _check_consent(new, signed_on, expires_on, day)
    moment = now(session)
    signed_at = moment if signed_on == day else datetime.combine(signed_on, time(12), UTC)
    consent = Consent(
        client_id=client.id,
        info_types=new.info_types,
        signed_by=new.signed_by,
        signer_is_guardian=new.signer_is_guardian,
        method=new.method,
        signed_at=signed_at,
        expires_on=expires_on,
        recorded_by_id=actor.staff_id,
        any_program=new.any_program,
        reference=new.reference,
        recorded_at=moment,
    )
    consent.programs = (
        [] if new.any_program else programs_named(session, new.programs, field="programs")
    )
    session.add(consent)
    session.flush()
    record(
        session,
        actor=actor,
        channel=channel,
        action="consent_signed",
        client_id=client.id,
        consent_id=consent.id,
        programs="any" if new.any_program else [p.key for p in consent.programs],
        method=str(new.method),
        signed_on=signed_on.isoformat(),
    )
    rejoin_consented(session, consent, actor=actor, channel=channel)
    return consent


def _check_consent(new: NewConsent, signed_on: date, expires_on: date, day: date) -> None:
    if new.any_program and new.programs:
        raise InvalidInput(
            "A consent covers either the programs named or any participating program, not both.",
            field="programs",
        )
    if not new.any_program and not [p for p in new.programs if p.strip()]:
        raise InvalidInput(
            "Say which programs the consent covers.",
            field="programs",
            hint="Name the programs, or choose any participating program.",
        )
    if signed_on > day:
        raise InvalidInput(
            f"The signing date {signed_on.isoformat()} is in the future.",
            field="signed_on",
            hint="Give the day the client or guardian signed.",
        )
    if expires_on < day:
        raise InvalidInput(
            f"A consent signed on {signed_on.isoformat()} expired on {expires_on.isoformat()}.",
            field="signed_on",
            hint="A consent is valid for one year from signing: ask for a new one.",
        )
    if new.method == ConsentMethod.UPLOADED_SCAN and not new.reference:
        raise InvalidInput(
            "Say where the signed paper's scan is kept.",
            field="reference",
            hint="For example the document number in your records system.",
        )
    if not [t for t in new.info_types if t.strip()]:
        raise InvalidInput("Say which information the consent releases.", field="info_types")


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


def active_consents(session: Session, client_id: int, day: date) -> list[Consent]:
    consents = session.scalars(
        select(Consent).where(Consent.client_id == client_id).order_by(Consent.id)
    )
    return [c for c in consents if c.active_on(day)]
