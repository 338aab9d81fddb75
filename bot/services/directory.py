"""The directory: import from a file (directory_file.py reads it), idempotently."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from bot.audit import record
from bot.context import now, today
from bot.domain.permissions import Actor
from bot.domain.vocab import Channel
from bot.network import set_network_settings
from bot.services.agreements import mou_renewed_programs
from bot.services.directory_file import (  # noqa: F401 - parse_directory and read_directory_file
    DirectoryFile,  # stay importable from here
    ImportResult,
    RoleEntry,
    bad_entry,
    county_named,
    parse_directory,
    read_directory_file,
    set_fields,
)
from bot.services.directory_staff import import_staff
from bot.services.grid_rows import refresh_grid_rows
from bot.services.routing import join_open_referrals
from storage.models import (
    Agency,
    County,
    Program,
    Region,
    ServiceCode,
)


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
    day = today(session)
    mou_before = {a.id: a.mou_valid_on(day) for a in session.scalars(select(Agency))}
    agencies, programs, joining = _import_agencies(
        session, directory, counties, services, source, result, progress
    )
    # A renewed agency MOU brings its programs back, like a lifted suspension.
    joining |= mou_renewed_programs(session, mou_before)
    if directory.network is not None:
        changed = set_network_settings(session, directory.network.model_dump(exclude_none=True))
        if changed:
            result.updated["network settings"] += len(changed)
    import_staff(session, directory, agencies, programs, counties, source, result, progress)
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
            set_fields(
                region, result, "regions", name=entry.name, digest_channel=entry.digest_channel
            )
    return found


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
                raise bad_entry(
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
            set_fields(county, result, "counties", name=entry.name, region=region)
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
            set_fields(service, result, "services", name=entry.name)
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
            set_fields(
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
                else [county_named(counties, name, source, where) for name in p.counties]
            )
            wanted_services = []
            for code in p.services:
                service = services.get(code.upper())
                if service is None:
                    raise bad_entry(source, where, "services", f'unknown service code "{code}"')
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
            changed = set_fields(
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


# Suspension lives in suspension.py; these names stay importable from here.
from bot.services.suspension import (  # noqa: E402, F401
    SuspensionResult,
    resume_program,
    suspend_program,
)
