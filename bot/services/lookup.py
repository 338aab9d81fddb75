"""Loading what use cases act on, with answers a person understands when it is not there."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, inspect, or_, select
from sqlalchemy.orm import Session

from bot.domain.permissions import Actor, may_see_referral
from bot.domain.vocab import Role
from bot.errors import Forbidden, InvalidInput, NotFound
from storage.models import County, Program, Referral, ServiceCode, Staff

NUMBER_HINT = "Referral numbers look like R-2026-000042."


def normalise_number(text: str) -> str:
    number = text.strip().upper()
    if not number.startswith("R-"):
        number = "R-" + number
    return number


# Referrals this session has read already, by number (`known_referrals`).
_BY_NUMBER = "referrals_by_number"


def known_referrals(session: Session, referrals: Iterable[Referral]) -> None:
    """Let `referral_by_number` answer from these rows, read in this session's transaction,
    instead of asking again: what a batch of email replies preloads (handlers/email/batch.py).
    The query would return these very objects (the session's identity map) as they are."""
    known: dict[str, Referral] = session.info.setdefault(_BY_NUMBER, {})
    known.update((r.number, r) for r in referrals if r.number is not None)


# Service codes' names this session has read already, by code (`known_service_names`).
_SERVICE_NAMES = "service_names"


def known_service_names(session: Session, codes: Iterable[str]) -> None:
    """Read the names of `codes` once for this session's transaction: a batch of email replies
    (handlers/email/batch.py) notifies about the same referrals' needs reply after reply."""
    wanted = set(codes)
    names = dict(
        session.execute(
            select(ServiceCode.code, ServiceCode.name).where(ServiceCode.code.in_(wanted))
        ).all()
    )
    known: dict[str, str] = session.info.setdefault(_SERVICE_NAMES, {})
    # A code without a row reads as itself, as `service_names` would answer.
    known.update((code, names.get(code, code)) for code in wanted)


def service_names(session: Session, codes: Iterable[str]) -> dict[str, str]:
    """Each code's name (the code itself when the directory has no row for it)."""
    wanted = list(codes)
    known: dict[str, str] = session.info.get(_SERVICE_NAMES, {})
    if all(code in known for code in wanted):
        return {code: known[code] for code in wanted}
    names = dict(
        session.execute(
            select(ServiceCode.code, ServiceCode.name).where(ServiceCode.code.in_(wanted))
        ).all()
    )
    return {code: names.get(code, code) for code in wanted}


def referral_by_number(session: Session, number: str, *, lock: bool = False) -> Referral:
    wanted = normalise_number(number)
    known = session.info.get(_BY_NUMBER, {}).get(wanted)
    if known is not None and not lock:
        state = inspect(known)
        if state.persistent and not state.expired_attributes and known.number == wanted:
            return known
    query = select(Referral).where(Referral.number == wanted)
    if lock:
        query = query.with_for_update()
    referral = session.scalar(query)
    if referral is None:
        raise NotFound(f"There is no referral {wanted}.", field="number", hint=NUMBER_HINT)
    return referral


def visible_referral(
    session: Session, actor: Actor, number: str, *, lock: bool = False, details: bool = False
) -> Referral:
    """The referral, if the actor has a role on it or works at one of its recipient programs;
    otherwise the same answer as a wrong number, so that other programs' referral numbers are
    not confirmed to exist. With `details` (client data), only people with a role on it."""
    referral = referral_by_number(session, number, lock=lock)
    active = [r for r in referral.recipients if r.active]
    has_role = may_see_referral(
        actor,
        primary_coordinator_id=referral.primary_coordinator_id,
        county_ids=[c.id for c in referral.counties],
        statewide=referral.statewide,
        recipients=[(r.program_id, r.assignee_id) for r in active],
    )
    works_there = bool(
        actor.programs(Role.GATEKEEPER, Role.PROVIDER) & {r.program_id for r in active}
    )
    if not (has_role or (works_there and not details)):
        raise NotFound(
            f"There is no referral {referral.number} that you can see.",
            field="number",
            hint=NUMBER_HINT,
        )
    return referral


def counties_named(
    session: Session, names: Iterable[str], *, field: str = "counties"
) -> list[County]:
    """Counties by FIPS code or name ("Boone", "Boone County", "St. Louis City")."""
    found: list[County] = []
    for raw in names:
        text = raw.strip()
        if not text:
            continue
        lowered = text.lower()
        county = session.scalar(
            select(County).where(
                or_(
                    County.fips == text,
                    func.lower(County.name) == lowered,
                    func.lower(County.name) == lowered + " county",
                )
            )
        )
        if county is None:
            raise InvalidInput(
                f'"{text}" is not a county I know.',
                field=field,
                hint="Use the county's name (e.g. Boone County) or its 5-digit FIPS code.",
            )
        if county not in found:
            found.append(county)
    return found


def check_service_codes(session: Session, codes: Iterable[str], *, field: str = "needs") -> None:
    wanted = list(codes)
    known = set(session.scalars(select(ServiceCode.code).where(ServiceCode.code.in_(wanted))))
    unknown = [c for c in wanted if c not in known]
    if unknown:
        raise InvalidInput(
            f"Unknown service code(s): {', '.join(unknown)}.",
            field=field,
            hint="Use codes from the directory's service list.",
        )


def programs_named(session: Session, keys: Iterable[str], *, field: str) -> list[Program]:
    found: list[Program] = []
    for key in keys:
        text = key.strip()
        program = session.scalar(
            select(Program).where(
                or_(Program.key == text, func.lower(Program.name) == text.lower())
            )
        )
        if program is None:
            raise InvalidInput(
                f'"{text}" is not a program in the directory.',
                field=field,
                hint="Use the program's key or its full name.",
            )
        found.append(program)
    return found


def program_named(session: Session, key: str, *, field: str = "program") -> Program:
    return programs_named(session, [key], field=field)[0]


def staff_named(session: Session, text: str, *, among: Iterable[Staff] | None = None) -> Staff:
    """A person by email, Slack user id, or (within `among`) an unambiguous name."""
    wanted = text.strip().lstrip("@").strip("<>").lower()
    if "|" in wanted:  # Slack's <@U123|name> mention form
        wanted = wanted.split("|", 1)[0]
    pool = list(among) if among is not None else None
    if pool is not None:
        by_key = [
            s
            for s in pool
            if s.email.lower() == wanted or (s.slack_user_id or "").lower() == wanted
        ]
        if by_key:
            return by_key[0]
        by_name = [s for s in pool if wanted and wanted in s.name.lower()]
        if len(by_name) == 1:
            return by_name[0]
        if len(by_name) > 1:
            raise InvalidInput(
                f'"{text}" matches more than one person: '
                + ", ".join(s.name for s in by_name)
                + ".",
                field="person",
                hint="Use their email address.",
            )
    staff = session.scalar(
        select(Staff).where(
            or_(func.lower(Staff.email) == wanted, func.lower(Staff.slack_user_id) == wanted)
        )
    )
    if staff is None:
        raise NotFound(
            f'I know nobody called "{text}".', field="person", hint="Use their email address."
        )
    return staff


def forbid_unless(condition: bool, message: str) -> None:
    if not condition:
        raise Forbidden(message)


def program_matching(session: Session, text: str, *, field: str = "program") -> Program:
    """A program by its key or name, exact or an unambiguous beginning, in any case."""
    wanted = " ".join(text.split()).lower()
    if not wanted:
        raise InvalidInput("No program given.", field=field, hint=PROGRAM_HINT)
    exact = session.scalar(
        select(Program).where(
            or_(func.lower(Program.key) == wanted, func.lower(Program.name) == wanted)
        )
    )
    if exact is not None:
        return exact
    found = list(
        session.scalars(
            select(Program)
            .where(
                or_(
                    func.lower(Program.key).startswith(wanted, autoescape=True),
                    func.lower(Program.name).startswith(wanted, autoescape=True),
                )
            )
            .order_by(Program.name)
        )
    )
    if len(found) == 1:
        return found[0]
    if not found:
        raise InvalidInput(
            f'"{text.strip()}" is not a program in the directory.', field=field, hint=PROGRAM_HINT
        )
    raise InvalidInput(
        f'"{text.strip()}" could be more than one program.',
        field=field,
        hint="Say which: " + ", ".join(f"{p.name} ({p.key})" for p in found) + ".",
    )


PROGRAM_HINT = "Use the program's key or its full name."
