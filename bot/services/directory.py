"""The directory: import from a file, idempotently, and program suspension."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from bot.audit import record
from bot.context import now
from bot.domain.permissions import Actor, require_may_suspend
from bot.domain.vocab import AccessStatus, Channel, Role
from bot.errors import InvalidInput
from bot.services.grid_rows import refresh_grid_rows
from bot.services.lookup import program_named
from bot.services.routing import join_open_referrals
from storage.models import (
    AccessRequest,
    Agency,
    County,
    Program,
    Region,
    RoleGrant,
    ServiceCode,
    Staff,
)

# --- The file's shape (docs/directory-format.md) -------------------------------------------------


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class RegionEntry(_Entry):
    key: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1)
    digest_channel: str | None = None


class CountyEntry(_Entry):
    fips: str = Field(pattern=r"^\d{5}$")
    name: str = Field(min_length=1)
    region: str | None = None


class ServiceEntry(_Entry):
    code: str = Field(min_length=1, max_length=32)
    name: str = Field(min_length=1)


class ProgramEntry(_Entry):
    key: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1)
    services: list[str] = Field(min_length=1)
    counties: list[str] | Literal["all"]
    insurance: list[str] = Field(default_factory=list)
    suspended: bool = False


class AgencyEntry(_Entry):
    key: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1)
    mou_signed_on: date | None = None
    mou_expires_on: date | None = None
    programs: list[ProgramEntry] = Field(default_factory=list)


class RoleEntry(_Entry):
    role: Role
    program: str | None = None
    agency: str | None = None
    counties: list[str] | Literal["all"] | None = None


class StaffEntry(_Entry):
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    name: str = Field(min_length=1)
    agency: str | None = None
    active: bool = True
    user_mou_signed_on: date | None = None
    slack_user_id: str | None = None
    wants_digest_email: bool = False
    roles: list[RoleEntry] = Field(default_factory=list)


class DirectoryFile(_Entry):
    version: Literal[1] = 1
    regions: list[RegionEntry] = Field(default_factory=list)
    counties: list[CountyEntry] = Field(default_factory=list)
    services: list[ServiceEntry] = Field(default_factory=list)
    agencies: list[AgencyEntry] = Field(default_factory=list)
    staff: list[StaffEntry] = Field(default_factory=list)


@dataclass
class ImportResult:
    created: Counter[str] = field(default_factory=Counter)
    updated: Counter[str] = field(default_factory=Counter)
    revoked: int = 0
    joined: int = 0
    # People the file lists as active whose access a security officer (or the idle rule) removed.
    kept_removed: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(sum(self.created.values()) or sum(self.updated.values()) or self.revoked)

    def summary(self) -> str:
        if not self.changed:
            return "Directory unchanged." + self._kept_removed_note()
        parts = [f"{n} {kind} created" for kind, n in sorted(self.created.items())]
        parts += [f"{n} {kind} updated" for kind, n in sorted(self.updated.items())]
        if self.revoked:
            parts.append(f"{self.revoked} roles revoked")
        text = "Directory imported: " + ", ".join(parts) + "."
        if self.joined:
            text += f" {self.joined} open referral(s) reached programs that joined."
        return text + self._kept_removed_note()

    def _kept_removed_note(self) -> str:
        if not self.kept_removed:
            return ""
        return (
            f" Access stays removed for {', '.join(self.kept_removed)}: a file cannot undo a "
            "removal; restore with `closeloop access restore --staff EMAIL`."
        )


def read_directory_file(path: Path) -> DirectoryFile:
    """Parse and validate a JSON or YAML directory file; errors name file, entry and field."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot be read ({exc.strerror}).", field="file") from None
    try:
        raw = yaml.safe_load(text) if path.suffix.lower() in (".yaml", ".yml") else json.loads(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise InvalidInput(
            f"{path}: not valid {path.suffix.lstrip('.').upper()}: {exc}", field="file"
        ) from None
    return parse_directory(raw, source=str(path))


def parse_directory(raw: Any, *, source: str) -> DirectoryFile:
    try:
        return DirectoryFile.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InvalidInput(
            f"{source}: {_describe(raw, first['loc'])}: {first['msg']}.", field=_field(first["loc"])
        ) from None


def _describe(raw: Any, loc: tuple[Any, ...]) -> str:
    """'agencies[1] (key "x") programs[0] (key "y") field "counties"' for a pydantic location."""
    parts: list[str] = []
    node = raw
    for index, step in enumerate(loc):
        if isinstance(step, int) and isinstance(node, list) and step < len(node):
            node = node[step]
            label = ""
            if isinstance(node, dict):
                ident = node.get("key") or node.get("email") or node.get("code") or node.get("fips")
                if ident is not None:
                    label = f' ({"email" if "email" in node else "key"} "{ident}")'
            parts[-1] = f"{parts[-1]}[{step}]{label}" if parts else f"[{step}]{label}"
        elif index == len(loc) - 1 or not isinstance(node, dict):
            parts.append(f'field "{step}"')
            node = None
        else:
            node = node.get(step) if isinstance(node, dict) else None
            parts.append(str(step))
    return " ".join(parts)


def _field(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc)


def import_directory(
    session: Session,
    *,
    directory: DirectoryFile,
    source: str,
    actor: Actor | None = None,
    channel: Channel = Channel.CLI,
    progress: Callable[[str, int], None] | None = None,
) -> ImportResult:
    """Load the file into the database in one transaction: all of it, or (on error) none.
    `progress(stage, n)` is told as entries are done (the CLI's progress bar)."""
    result = ImportResult()
    names_before: dict[int, str] = {
        pid: name for pid, name in session.execute(select(Program.id, Program.name))
    }
    regions = _import_regions(session, directory, result)
    counties = _import_counties(session, directory, regions, source, result)
    services = _import_services(session, directory, result)
    if progress:
        progress("counties", len(directory.regions) + len(directory.counties))
        progress("services", len(directory.services))
    agencies, programs, joining = _import_agencies(
        session, directory, counties, services, source, result, progress
    )
    _import_staff(session, directory, agencies, programs, counties, source, result, progress)
    session.flush()
    renamed = [p.id for p in programs.values() if names_before.get(p.id, p.name) != p.name]
    refresh_grid_rows(session, program_ids=renamed)
    if joining:
        result.joined = join_open_referrals(
            session, joining, how="directory_import", actor=actor, channel=channel
        )
    if result.changed:
        record(
            session,
            actor=actor,
            channel=channel,
            action="directory_imported",
            source=Path(source).name,
            created=dict(result.created),
            updated=dict(result.updated),
            revoked=result.revoked,
        )
    return result


def _set(obj: Any, result: ImportResult | None, kind: str, **values: Any) -> bool:
    changed = False
    for name, value in values.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed = True
    if changed and result is not None:
        result.updated[kind] += 1
    return changed


def _import_regions(session: Session, d: DirectoryFile, result: ImportResult) -> dict[str, Region]:
    found = {r.key: r for r in session.scalars(select(Region))}
    for entry in d.regions:
        region = found.get(entry.key)
        if region is None:
            region = Region(key=entry.key, name=entry.name, digest_channel=entry.digest_channel)
            session.add(region)
            found[entry.key] = region
            result.created["regions"] += 1
        else:
            _set(region, result, "regions", name=entry.name, digest_channel=entry.digest_channel)
    return found


def _bad(source: str, where: str, field_name: str, message: str) -> InvalidInput:
    return InvalidInput(f'{source}: {where} field "{field_name}": {message}.', field=field_name)


def _import_counties(
    session: Session,
    d: DirectoryFile,
    regions: dict[str, Region],
    source: str,
    result: ImportResult,
) -> dict[str, County]:
    found = {c.fips: c for c in session.scalars(select(County))}
    for i, entry in enumerate(d.counties):
        region = None
        if entry.region is not None:
            region = regions.get(entry.region)
            if region is None:
                raise _bad(
                    source,
                    f'counties[{i}] (fips "{entry.fips}")',
                    "region",
                    f'unknown region "{entry.region}"',
                )
        county = found.get(entry.fips)
        if county is None:
            county = County(fips=entry.fips, name=entry.name, region=region)
            session.add(county)
            found[entry.fips] = county
            result.created["counties"] += 1
        else:
            _set(county, result, "counties", name=entry.name, region=region)
    by_name: dict[str, County] = dict(found)
    for county in found.values():
        by_name[county.name.lower()] = county
        by_name[county.name.lower().removesuffix(" county")] = county
    return by_name


def _import_services(
    session: Session, d: DirectoryFile, result: ImportResult
) -> dict[str, ServiceCode]:
    found = {s.code: s for s in session.scalars(select(ServiceCode))}
    for entry in d.services:
        code = entry.code.upper()
        service = found.get(code)
        if service is None:
            service = ServiceCode(code=code, name=entry.name)
            session.add(service)
            found[code] = service
            result.created["services"] += 1
        else:
            _set(service, result, "services", name=entry.name)
    return found


def _import_agencies(
    session: Session,
    d: DirectoryFile,
    counties: dict[str, County],
    services: dict[str, ServiceCode],
    source: str,
    result: ImportResult,
    progress: Callable[[str, int], None] | None = None,
) -> tuple[dict[str, Agency], dict[str, Program], set[int]]:
    agencies = {a.key: a for a in session.scalars(select(Agency))}
    # Counties and services loaded with the programs: one query each, not two per program.
    loaded = select(Program).options(selectinload(Program.counties), selectinload(Program.services))
    programs = {p.key: p for p in session.scalars(loaded)}
    all_counties = sorted({c.id: c for c in counties.values()}.values(), key=lambda c: c.fips)
    joining: set[int] = set()
    new_programs: list[Program] = []
    for ai, entry in enumerate(d.agencies):
        if progress:
            progress("agencies", 1 + len(entry.programs))
        agency = agencies.get(entry.key)
        if agency is None:
            agency = Agency(
                key=entry.key,
                name=entry.name,
                mou_signed_on=entry.mou_signed_on,
                mou_expires_on=entry.mou_expires_on,
            )
            session.add(agency)
            agencies[entry.key] = agency
            result.created["agencies"] += 1
        else:
            _set(
                agency,
                result,
                "agencies",
                name=entry.name,
                mou_signed_on=entry.mou_signed_on,
                mou_expires_on=entry.mou_expires_on,
            )
        for pi, p in enumerate(entry.programs):
            where = f'agencies[{ai}] (key "{entry.key}") programs[{pi}] (key "{p.key}")'
            wanted_counties = (
                all_counties
                if p.counties == "all"
                else [_county(counties, name, source, where) for name in p.counties]
            )
            wanted_services = []
            for code in p.services:
                service = services.get(code.upper())
                if service is None:
                    raise _bad(source, where, "services", f'unknown service code "{code}"')
                wanted_services.append(service)
            program = programs.get(p.key)
            if program is None:
                program = Program(
                    key=p.key,
                    agency=agency,
                    name=p.name,
                    insurance=p.insurance,
                    suspended=p.suspended,
                )
                program.counties = list(dict.fromkeys(wanted_counties))
                program.services = list(dict.fromkeys(wanted_services))
                session.add(program)
                programs[p.key] = program
                new_programs.append(program)
                result.created["programs"] += 1
                continue
            was_suspended = program.suspended
            old_counties = {c.fips for c in program.counties}
            old_services = {s.code for s in program.services}
            new_counties = {c.fips for c in wanted_counties}
            new_services = {s.code for s in wanted_services}
            changed = _set(
                program, None, "programs", name=p.name, insurance=p.insurance, agency=agency
            )
            if p.suspended != program.suspended:
                program.suspended = p.suspended
                program.suspended_at = now(session) if p.suspended else None
                changed = True
            if new_counties != old_counties:
                program.counties = list(dict.fromkeys(wanted_counties))
                changed = True
            if new_services != old_services:
                program.services = list(dict.fromkeys(wanted_services))
                changed = True
            if changed:
                result.updated["programs"] += 1
            widened = bool(new_counties - old_counties or new_services - old_services)
            if widened or (was_suspended and not program.suspended):
                joining.add(program.id)
    session.flush()
    joining.update(p.id for p in new_programs)
    return agencies, programs, joining


def _county(counties: dict[str, County], name: str, source: str, where: str) -> County:
    county = (
        counties.get(name)
        or counties.get(name.lower())
        or counties.get(name.lower().removesuffix(" county"))
    )
    if county is None:
        raise _bad(source, where, "counties", f'unknown county "{name}"')
    return county


def _import_staff(
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
                raise _bad(source, where, "agency", f'unknown agency "{entry.agency}"')
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
            _set(
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
            raise _bad(
                source,
                where,
                "program",
                f'a {role.role.value} needs a program of the directory (got "{role.program}")',
            )
        return [(role.role, program.id, None, None)]
    if role.role == Role.SECURITY_OFFICER:
        agency = agencies.get(role.agency or "")
        if agency is None:
            raise _bad(
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
            (role.role, None, None, _county(counties, name, source, where).id)
            for name in role.counties
        ]
    return [(role.role, None, None, None)]


# --- Suspension ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SuspensionResult:
    program: str
    suspended: bool
    changed: bool
    joined: int


def suspend_program(
    session: Session, *, actor: Actor, program: str, channel: Channel
) -> SuspensionResult:
    """No-referral status: the program receives nothing until it is resumed."""
    found = program_named(session, program)
    require_may_suspend(actor, program_id=found.id, program_name=found.name)
    if found.suspended:
        return SuspensionResult(found.name, True, False, 0)
    found.suspended = True
    found.suspended_at = now(session)
    record(session, actor=actor, channel=channel, action="program_suspended", program_id=found.id)
    return SuspensionResult(found.name, True, True, 0)


def resume_program(
    session: Session, *, actor: Actor, program: str, channel: Channel
) -> SuspensionResult:
    """Lift no-referral status: the program joins, and hears of, every open referral it matches."""
    found = program_named(session, program)
    require_may_suspend(actor, program_id=found.id, program_name=found.name)
    if not found.suspended:
        return SuspensionResult(found.name, False, False, 0)
    found.suspended = False
    found.suspended_at = None
    record(session, actor=actor, channel=channel, action="program_resumed", program_id=found.id)
    session.flush()
    joined = join_open_referrals(session, [found.id], how="resumed", actor=actor, channel=channel)
    return SuspensionResult(found.name, False, True, joined)
