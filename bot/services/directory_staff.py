"""The staff part of a directory import: people, their roles, and roles the file no longer
lists revoked (never one a security officer approved on request)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.context import now
from bot.domain.vocab import AccessStatus, Role
from bot.services.directory_file import (
    DirectoryFile,
    ImportResult,
    RoleEntry,
    bad_entry,
    county_named,
    set_fields,
)
from storage.models import AccessRequest, Agency, County, Program, RoleGrant, Staff


def import_staff(
    session: Session,
    d: DirectoryFile,
    agencies: dict[str, Agency],
    programs: dict[str, Program],
    counties: dict[str, County],
    source: str,
    result: ImportResult,
    progress: Callable[[str, int], None] | None = None,
) -> None:
    people = {s.email.lower(): s for s in session.scalars(select(Staff))}
    moment = now(session)
    for si, entry in enumerate(d.staff):
        if progress:
            progress("staff", 1)
        where = f'staff[{si}] (email "{entry.email}")'
        agency = None
        if entry.agency is not None:
            agency = agencies.get(entry.agency)
            if agency is None:
                raise bad_entry(source, where, "agency", f'unknown agency "{entry.agency}"')
        email = entry.email.lower()
        person = people.get(email)
        if person is None:
            person = Staff(
                email=email,
                name=entry.name,
                agency=agency,
                active=entry.active,
                user_mou_signed_on=entry.user_mou_signed_on,
                slack_user_id=entry.slack_user_id,
                wants_digest_email=entry.wants_digest_email,
                created_at=moment,
            )
            session.add(person)
            people[email] = person
            result.created["staff"] += 1
        else:
            removed = person.access_removed_at is not None
            if removed and entry.active:
                result.kept_removed.append(email)
            set_fields(
                person,
                result,
                "staff",
                name=entry.name,
                agency=agency,
                active=entry.active and not removed,
                user_mou_signed_on=entry.user_mou_signed_on,
                slack_user_id=entry.slack_user_id or person.slack_user_id,
                wants_digest_email=entry.wants_digest_email,
            )
        wanted: set[tuple[Role, int | None, int | None, int | None]] = set()
        for ri, role in enumerate(entry.roles):
            rwhere = f"{where} roles[{ri}]"
            wanted.update(_grant_keys(role, agencies, programs, counties, source, rwhere))
        session.flush()
        if person.access_removed_at is not None:
            # Removed access is restored on purpose (`closeloop access restore`), never by a file.
            continue
        current = {
            (g.role, g.program_id, g.agency_id, g.county_id): g
            for g in session.scalars(
                select(RoleGrant).where(
                    RoleGrant.staff_id == person.id, RoleGrant.revoked_at.is_(None)
                )
            )
        }
        for key in wanted - current.keys():
            role_, program_id, agency_id, county_id = key
            session.add(
                RoleGrant(
                    staff_id=person.id,
                    role=role_,
                    program_id=program_id,
                    agency_id=agency_id,
                    county_id=county_id,
                    granted_at=moment,
                )
            )
            result.created["roles"] += 1
        approved = _approved_on_request(session, person.id)
        for key in current.keys() - wanted - approved:
            current[key].revoked_at = moment
            result.revoked += 1


def _approved_on_request(
    session: Session, staff_id: int
) -> set[tuple[Role, int | None, int | None, int | None]]:
    """Roles a security officer approved on request: the directory file does not know them,
    so an import must not take them away (revoking access does)."""
    rows = session.execute(
        select(AccessRequest.role, AccessRequest.program_id).where(
            AccessRequest.staff_id == staff_id, AccessRequest.status == AccessStatus.APPROVED
        )
    )
    return {(role, program_id, None, None) for role, program_id in rows}


def _grant_keys(
    role: RoleEntry,
    agencies: dict[str, Agency],
    programs: dict[str, Program],
    counties: dict[str, County],
    source: str,
    where: str,
) -> list[tuple[Role, int | None, int | None, int | None]]:
    if role.role in (Role.GATEKEEPER, Role.PROVIDER):
        program = programs.get(role.program or "")
        if program is None:
            raise bad_entry(
                source,
                where,
                "program",
                f'a {role.role.value} needs a program of the directory (got "{role.program}")',
            )
        return [(role.role, program.id, None, None)]
    if role.role == Role.SECURITY_OFFICER:
        agency = agencies.get(role.agency or "")
        if agency is None:
            raise bad_entry(
                source,
                where,
                "agency",
                f'a security officer needs an agency of the directory (got "{role.agency}")',
            )
        return [(role.role, None, agency.id, None)]
    if role.role == Role.COORDINATOR:
        if role.counties is None or role.counties == "all":
            return [(role.role, None, None, None)]
        return [
            (role.role, None, None, county_named(counties, name, source, where).id)
            for name in role.counties
        ]
    return [(role.role, None, None, None)]
