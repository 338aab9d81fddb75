"""The directory from and to Open Referral HSDS 3.0: import through the directory's own import,
export of what closeloop keeps."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from bot.domain.permissions import Actor
from bot.domain.vocab import Channel, Role
from bot.errors import InvalidInput
from bot.interop.hsds_map import Known, Overlay, map_hsds
from bot.interop.hsds_read import HsdsData, Progress, read_json, read_package
from bot.services.directory import ImportResult, import_directory, parse_directory
from storage.models import Agency, County, Program, RoleGrant, ServiceCode, Staff

# Ids closeloop makes up for what it exports without an HSDS id of its own: stable across
# exports (uuid5 of the closeloop key), so a consumer's re-import updates instead of duplicating.
NAMESPACE = uuid.UUID("6f1c2d0e-5b7a-4c1e-9a43-0c7e1c0a5e11")


@dataclass
class HsdsImportReport:
    """What an HSDS import did: the directory import's counts, plus what was left out and why."""

    result: ImportResult
    skipped: list[str] = field(default_factory=list)
    records_updated: int = 0

    @property
    def changed(self) -> bool:
        return self.result.changed or bool(self.records_updated)

    def summary(self) -> str:
        text = self.result.summary()
        if self.records_updated and not self.result.changed:
            text = "Directory imported:"
        if self.records_updated:
            text += f" {self.records_updated} HSDS record(s) updated."
        if self.skipped:
            text += f" {len(self.skipped)} skipped:\n" + "\n".join(f"- {s}" for s in self.skipped)
        return text


def read_hsds(path: Path, progress: Progress | None = None) -> HsdsData:
    """The tabular data package (a folder, or its datapackage.json) or an HSDS JSON file."""
    if path.is_dir() or path.name == "datapackage.json":
        return read_package(path, progress)
    if not path.exists():
        raise InvalidInput(f"{path}: no such file or folder.", field="file")
    return read_json(path, progress)


def read_overlay(path: Path | None) -> Overlay:
    if path is None:
        return Overlay()
    try:
        text = path.read_text(encoding="utf-8")
        raw = yaml.safe_load(text) if path.suffix.lower() in (".yaml", ".yml") else json.loads(text)
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot be read ({exc.strerror}).", field="overlay") from None
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise InvalidInput(f"{path}: not valid JSON or YAML: {exc}", field="overlay") from None
    try:
        return Overlay.model_validate(raw or {})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidInput(f'{path}: field "{where}": {first["msg"]}.', field=where) from None


def import_hsds(
    session: Session,
    *,
    data: HsdsData,
    overlay: Overlay,
    source: str,
    actor: Actor | None = None,
    channel: Channel = Channel.CLI,
    progress: Progress | None = None,
) -> HsdsImportReport:
    """One transaction: the HSDS objects become a directory file's entries, imported by the
    directory's own import (so re-import is idempotent and updates in place)."""
    mapped = map_hsds(data, overlay, _known(session))
    directory = parse_directory(mapped.directory, source=source)
    result = import_directory(
        session, directory=directory, source=source, actor=actor, channel=channel, progress=progress
    )
    report = HsdsImportReport(result, skipped=mapped.skipped)
    for agency in session.scalars(select(Agency).where(Agency.key.in_(mapped.agency_extras))):
        if agency.hsds != mapped.agency_extras[agency.key]:
            agency.hsds = mapped.agency_extras[agency.key]
            report.records_updated += 1
    for program in session.scalars(select(Program).where(Program.key.in_(mapped.program_extras))):
        if program.hsds != mapped.program_extras[program.key]:
            program.hsds = mapped.program_extras[program.key]
            report.records_updated += 1
    return report


def _known(session: Session) -> Known:
    known = Known(codes=set(session.scalars(select(ServiceCode.code))))
    for county in session.scalars(select(County)):
        known.counties[county.fips] = county.fips
        known.counties[county.name.lower()] = county.fips
        known.counties[county.name.lower().removesuffix(" county")] = county.fips
    for agency in session.scalars(select(Agency)):
        known.agency_keys[_made_up("agency", agency.key)] = agency.key
        org_id = ((agency.hsds or {}).get("organization") or {}).get("id")
        if org_id:
            known.agency_keys[org_id] = agency.key
        known.mous[agency.key] = (agency.mou_signed_on, agency.mou_expires_on)
    programs = select(Program).options(
        selectinload(Program.counties), selectinload(Program.services)
    )
    for program in session.scalars(programs):
        known.program_keys[_made_up("program", program.key)] = program.key
        service_id = ((program.hsds or {}).get("service") or {}).get("id")
        if service_id:
            known.program_keys[service_id] = program.key
        known.insurance[program.key] = list(program.insurance)
        known.program_counties[program.key] = [c.fips for c in program.counties]
        known.program_codes[program.key] = [s.code for s in program.services]
    return known


# --- Export ---------------------------------------------------------------------------------------


def _made_up(kind: str, key: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{kind}:{key}"))


def export_hsds(session: Session) -> HsdsData:
    """The directory as HSDS objects: what an import kept, with closeloop's current values for
    what closeloop owns (names, no-referral status, service codes, contacts' roles)."""
    out = HsdsData()
    agencies = session.scalars(
        select(Agency)
        .options(selectinload(Agency.programs).selectinload(Program.services))
        .order_by(Agency.key)
    ).all()
    for agency in agencies:
        extra = agency.hsds or {}
        org = dict(extra.get("organization") or {})
        org.setdefault("id", _made_up("agency", agency.key))
        org.setdefault("description", agency.name)
        org["name"] = agency.name
        out.organizations[org["id"]] = org
        for phone in extra.get("phones") or []:
            out.phones[phone["id"]] = phone
        for program in agency.programs:
            _export_program(session, out, program, org["id"])
    return out


def _export_program(session: Session, out: HsdsData, program: Program, org_id: str) -> None:
    extra = program.hsds or {}
    service = dict(extra.get("service") or {})
    service.setdefault("id", _made_up("program", program.key))
    service["organization_id"] = org_id
    service["name"] = program.name
    kept_status = service.get("status", "active")
    if program.suspended:
        service["status"] = kept_status if kept_status != "active" else "temporarily closed"
    else:
        service["status"] = "active"
    grouping = extra.get("program")
    if grouping:
        out.programs[grouping["id"]] = grouping
        service["program_id"] = grouping["id"]
    out.services[service["id"]] = service
    for area in extra.get("service_areas") or []:
        out.service_areas[area["id"]] = area
    if not extra.get("service_areas"):
        for county in program.counties:
            area_id = _made_up("area", f"{program.key}:{county.fips}")
            out.service_areas[area_id] = {
                "id": area_id,
                "service_id": service["id"],
                "name": county.name,
                "extent": county.fips,
                "extent_type": "fips",
            }
    terms = {t.get("code", "").upper(): t for t in extra.get("taxonomy_terms") or []}
    attributes = {a.get("taxonomy_term_id"): a for a in extra.get("attributes") or []}
    for code in sorted(s.code for s in program.services):
        term = terms.get(code) or {
            "id": _made_up("code", code),
            "code": code,
            "name": next(s.name for s in program.services if s.code == code),
            "description": next(s.name for s in program.services if s.code == code),
            "taxonomy": "closeloop",
        }
        out.taxonomy_terms[term["id"]] = term
        attribute = attributes.get(term["id"]) or {
            "id": _made_up("attribute", f"{program.key}:{code}"),
            "link_id": service["id"],
            "link_type": "service_code",
            "link_entity": "service",
            "taxonomy_term_id": term["id"],
        }
        out.attributes[attribute["id"]] = attribute
    for phone in extra.get("phones") or []:
        out.phones[phone["id"]] = phone
    kept = {(c.get("email") or "").lower(): c for c in extra.get("contacts") or []}
    for person in _contacts_of(session, program.id):
        contact = {k: v for k, v in (kept.get(person.email) or {}).items() if k != "phones"}
        phones = (kept.get(person.email) or {}).get("phones") or []
        contact.setdefault("id", _made_up("contact", f"{program.key}:{person.email}"))
        contact["organization_id"] = contact.get("organization_id", org_id)
        contact["service_id"] = service["id"]
        contact["name"] = person.name
        contact["email"] = person.email
        out.contacts[contact["id"]] = contact
        for phone in phones:
            out.phones[phone["id"]] = phone


def _contacts_of(session: Session, program_id: int) -> list[Staff]:
    return list(
        session.scalars(
            select(Staff)
            .join(RoleGrant, RoleGrant.staff_id == Staff.id)
            .where(
                RoleGrant.program_id == program_id,
                RoleGrant.revoked_at.is_(None),
                RoleGrant.role.in_([Role.GATEKEEPER, Role.PROVIDER]),
                Staff.active.is_(True),
            )
            .distinct()
            .order_by(Staff.email)
        )
    )
