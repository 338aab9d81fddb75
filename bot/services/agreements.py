"""Consent and MOUs that really gate: programs a lapsed consent no longer covers leave the
client's referrals; agency MOUs are renewed (programs rejoin); people sign their user MOU."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Row, or_, select
from sqlalchemy.orm import Session

from bot.actors import actor_for
from bot.audit import record
from bot.context import now, today
from bot.domain.agreements import agency_mou_ends, agency_mou_valid
from bot.domain.permissions import USER_MOU_VALID_DAYS, Actor
from bot.domain.vocab import ACTIVE_STATES, Channel
from bot.errors import Forbidden, InvalidInput, NotFound
from bot.network import consent_required, user_mou_text
from bot.notify import notify
from bot.services.grid_rows import refresh_grid_rows
from bot.services.routing import consented_programs, join_open_referrals
from storage.models import Agency, Consent, Program, Recipient, Referral, Staff

# A user MOU can be signed again in the last 30 days of its year (when the reminder comes).
USER_MOU_RENEW_DAYS = 30


# --- Consent --------------------------------------------------------------------------------


def withdraw_uncovered(
    session: Session, *, client_id: int, actor: Actor | None, channel: Channel, why: str
) -> dict[str, list[str]]:
    """Where the network requires consent: every program of the client's active referrals that
    no active consent covers any more leaves them (its gatekeepers and providers stop seeing
    the client), and each referral's primary coordinator is told which programs lost access.
    Returns {referral number: [program names]}."""
    covered = consented_programs(session, client_id, today(session))
    if covered is None:
        return {}
    rows = session.execute(
        select(Recipient, Referral)
        .join(Referral, Referral.id == Recipient.referral_id)
        .where(
            Referral.client_id == client_id,
            Referral.state.in_(ACTIVE_STATES),
            Recipient.active.is_(True),
            Recipient.program_id.not_in(covered) if covered else Recipient.id.is_not(None),
        )
        .order_by(Referral.id, Recipient.program_id)
    ).all()
    return _withdraw(
        session,
        rows,
        actor=actor,
        channel=channel,
        kind="consent_withdrawn",
        detail={"why": why},
    )


def _withdraw(
    session: Session,
    rows: Sequence[Row[Recipient, Referral]],
    *,
    actor: Actor | None,
    channel: Channel,
    kind: str,
    detail: dict[str, Any],
) -> dict[str, list[str]]:
    """The recipients leave their referrals (kept, inactive: a return restores their
    assignment and answers); one audit event and one notice to the primary coordinator per
    referral, naming the programs that lost access."""
    moment = now(session)
    lost: dict[int, list[Recipient]] = defaultdict(list)
    referrals: dict[int, Referral] = {}
    for recipient, referral in rows:
        recipient.active = False
        recipient.left_at = moment
        lost[referral.id].append(recipient)
        referrals[referral.id] = referral
    told: dict[str, list[str]] = {}
    for referral_id, recipients in lost.items():
        referral = referrals[referral_id]
        names = sorted(r.program.name for r in recipients)
        event = record(
            session,
            actor=actor,
            channel=channel,
            action=kind,
            referral_id=referral.id,
            client_id=referral.client_id,
            programs=names,
            **detail,
        )
        coordinator = session.get(Staff, referral.primary_coordinator_id)
        notify(
            session,
            event=event,
            kind=kind,
            people=[coordinator] if coordinator else [],
            # Named by number only: no brief, no buttons (there is nothing to do on Slack).
            payload={"referral": referral.number, "programs": names, **detail},
            referral_id=referral.id,
        )
        told[referral.number or ""] = names
    refresh_grid_rows(session, referral_ids=list(lost))
    return told


def lapsed_consents(session: Session) -> int:
    """The daily job: clients whose consent expired or was revoked lose the programs no other
    consent covers. Returns how many coordinators' notifications were written."""
    if not consent_required(session):
        return 0
    day = today(session)
    client_ids = session.scalars(
        select(Consent.client_id)
        .join(Referral, Referral.client_id == Consent.client_id)
        .where(
            Referral.state.in_(ACTIVE_STATES),
            or_(Consent.expires_on < day, Consent.revoked_at.is_not(None)),
        )
        .distinct()
        .order_by(Consent.client_id)
    ).all()
    withdrawn = 0
    for client_id in client_ids:
        told = withdraw_uncovered(
            session, client_id=client_id, actor=None, channel=Channel.SCHEDULER, why="expired"
        )
        withdrawn += len(told)
    return withdrawn


def rejoin_consented(session: Session, consent: Consent, *, actor: Actor, channel: Channel) -> int:
    """A newly signed consent: the programs it covers join the client's open referrals they
    match (as a lifted suspension does)."""
    if consent.any_program:
        covered = list(session.scalars(select(Program.id)))
    else:
        covered = [p.id for p in consent.programs]
    return join_open_referrals(
        session,
        covered,
        how="consent_signed",
        actor=actor,
        channel=channel,
        client_id=consent.client_id,
    )


# --- Agency MOU ------------------------------------------------------------------------------


@dataclass(frozen=True)
class MouRenewed:
    agency: str
    valid_until: date
    joined: int


def renew_agency_mou(
    session: Session,
    *,
    actor: Actor,
    agency_key: str,
    signed_on: date | None = None,
    expires_on: date | None = None,
    channel: Channel,
) -> MouRenewed:
    """An admin records an agency's renewed MOU; its programs rejoin the open referrals they
    now match and their gatekeepers are told, like a lifted suspension."""
    if not actor.is_admin:
        raise Forbidden("Only a network admin can renew an agency's MOU.")
    agency = session.scalar(select(Agency).where(Agency.key == agency_key.strip()))
    if agency is None:
        raise NotFound(f"There is no agency {agency_key!r}.", field="agency")
    day = today(session)
    signed = signed_on or day
    if signed > day:
        raise InvalidInput("The signing date cannot be in the future.", field="signed_on")
    if expires_on is not None and expires_on < signed:
        raise InvalidInput("The MOU cannot expire before it was signed.", field="expires_on")
    agency.mou_signed_on = signed
    agency.mou_expires_on = expires_on
    ends = agency_mou_ends(signed, expires_on)
    assert ends is not None
    record(
        session,
        actor=actor,
        channel=channel,
        action="agency_mou_renewed",
        agency=agency.key,
        signed_on=signed.isoformat(),
        valid_until=ends.isoformat(),
    )
    joined = 0
    if agency_mou_valid(signed, expires_on, day):
        joined = join_open_referrals(
            session,
            [p.id for p in agency.programs],
            how="mou_renewed",
            actor=actor,
            channel=channel,
        )
    return MouRenewed(agency=agency.name, valid_until=ends, joined=joined)


def lapsed_agency_mous(session: Session) -> int:
    """The daily job: the programs of an agency whose MOU is no longer valid leave the open
    referrals they had received (their staff stop seeing the clients); each referral's primary
    coordinator is told. Renewing the MOU brings them back. Returns the referrals concerned."""
    day = today(session)
    lapsed = {
        agency.id: agency.name
        for agency in session.scalars(select(Agency))
        if not agency.mou_valid_on(day)
    }
    if not lapsed:
        return 0
    rows = session.execute(
        select(Recipient, Referral)
        .join(Referral, Referral.id == Recipient.referral_id)
        .join(Program, Program.id == Recipient.program_id)
        .where(
            Referral.state.in_(ACTIVE_STATES),
            Recipient.active.is_(True),
            Program.agency_id.in_(lapsed),
        )
        .order_by(Referral.id, Recipient.program_id)
    ).all()
    told = _withdraw(
        session,
        rows,
        actor=None,
        channel=Channel.SCHEDULER,
        kind="mou_withdrawn",
        detail={},
    )
    return len(told)


def mou_renewed_programs(session: Session, before: dict[int, bool]) -> set[int]:
    """Programs of agencies whose MOU was not valid (`before`: agency id -> valid) and is now
    (a directory import that renews it)."""
    day = today(session)
    renewed: set[int] = set()
    for agency in session.scalars(select(Agency).where(Agency.id.in_(before))):
        if not before[agency.id] and agency.mou_valid_on(day):
            renewed.update(p.id for p in agency.programs)
    return renewed


# --- User MOU --------------------------------------------------------------------------------


@dataclass(frozen=True)
class UserMou:
    """The network's user agreement as a person sees it."""

    text: str
    signed_on: date | None
    valid_until: date | None
    may_sign: bool


def user_mou_of(session: Session, staff: Staff) -> UserMou:
    day = today(session)
    signed = staff.user_mou_signed_on
    until = signed + timedelta(days=USER_MOU_VALID_DAYS) if signed else None
    may_sign = until is None or until - day <= timedelta(days=USER_MOU_RENEW_DAYS)
    return UserMou(user_mou_text(session), signed, until, may_sign)


def sign_user_mou(session: Session, *, staff_id: int, channel: Channel) -> UserMou:
    """The person confirms the network's user agreement for a year (audited with the text's
    fingerprint). Their access must not have been removed; a lapsed MOU is what this fixes."""
    staff = session.get(Staff, staff_id, with_for_update=True)
    if staff is None or not staff.active:
        raise Forbidden(
            "Your closeloop access was removed.",
            hint="Ask your agency's security officer if you need it back.",
        )
    current = user_mou_of(session, staff)
    if not current.may_sign:
        assert current.valid_until is not None
        raise InvalidInput(
            f"You signed the user agreement on {current.signed_on}; it is valid until "
            f"{current.valid_until}. You can sign it again in its last {USER_MOU_RENEW_DAYS} days.",
            field="user_mou",
        )
    staff.user_mou_signed_on = today(session)
    record(
        session,
        actor=actor_for(session, staff, check=False),
        channel=channel,
        action="user_mou_signed",
        text_sha256=hashlib.sha256(current.text.encode("utf-8")).hexdigest(),
    )
    return user_mou_of(session, staff)
