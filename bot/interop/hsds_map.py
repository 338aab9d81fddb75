"""HSDS objects onto closeloop's directory: which become agencies, programs, codes, contacts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from bot.domain.vocab import Role
from bot.interop.hsds_read import HsdsData

MAX_CODE = 32


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class AgencyOverlay(_Entry):
    key: str | None = Field(default=None, min_length=1, max_length=64)
    mou_signed_on: date | None = None
    mou_expires_on: date | None = None


class ProgramOverlay(_Entry):
    key: str | None = Field(default=None, min_length=1, max_length=64)
    services: list[str] | None = None
    counties: list[str] | Literal["all"] | None = None
    insurance: list[str] = Field(default_factory=list)


class ContactOverlay(_Entry):
    roles: list[Literal[Role.GATEKEEPER, Role.PROVIDER]] = Field(min_length=1)
    user_mou_signed_on: date | None = None
    slack_user_id: str | None = None


class Overlay(_Entry):
    """What closeloop needs and HSDS lacks (docs/interoperability.md)."""

    version: Literal[1] = 1
    agencies: dict[str, AgencyOverlay] = Field(default_factory=dict)
    programs: dict[str, ProgramOverlay] = Field(default_factory=dict)
    service_areas: dict[str, list[str] | Literal["all"]] = Field(default_factory=dict)
    taxonomy: dict[str, str] = Field(default_factory=dict)
    contacts: dict[str, ContactOverlay] = Field(default_factory=dict)


@dataclass
class Known:
    """What closeloop already has that an HSDS source is matched against."""

    # A county's FIPS code and lower-cased names -> its FIPS code.
    counties: dict[str, str] = field(default_factory=dict)
    codes: set[str] = field(default_factory=set)
    # HSDS id -> closeloop key, for agencies and programs imported (or exported) before.
    agency_keys: dict[str, str] = field(default_factory=dict)
    program_keys: dict[str, str] = field(default_factory=dict)
    # What the overlay does not name stays as it is.
    mous: dict[str, tuple[date | None, date | None]] = field(default_factory=dict)
    insurance: dict[str, list[str]] = field(default_factory=dict)
    program_counties: dict[str, list[str]] = field(default_factory=dict)
    program_codes: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class Mapped:
    """The closeloop directory file (as data) an HSDS source amounts to, what HSDS keeps beside
    it for the export, and what was left out and why."""

    directory: dict[str, Any]
    agency_extras: dict[str, dict[str, Any]] = field(default_factory=dict)
    program_extras: dict[str, dict[str, Any]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)


def map_hsds(data: HsdsData, overlay: Overlay, known: Known) -> Mapped:
    """Service codes closeloop has keep closeloop's names."""
    mapped = Mapped(directory={"version": 1, "services": [], "agencies": [], "staff": []})
    links = _Links(data)
    codes: dict[str, str] = {}
    agencies: dict[str, dict[str, Any]] = {}
    for org_id, org in data.organizations.items():
        extra = overlay.agencies.get(org_id)
        key = (extra.key if extra else None) or known.agency_keys.get(org_id, org_id)
        signed, expires = (
            (extra.mou_signed_on, extra.mou_expires_on)
            if extra
            else known.mous.get(key, (None, None))
        )
        entry: dict[str, Any] = {
            "key": key,
            "name": org["name"],
            "mou_signed_on": signed,
            "mou_expires_on": expires,
            "programs": [],
        }
        agencies[org_id] = entry
        mapped.directory["agencies"].append(entry)
        mapped.agency_extras[key] = {
            "organization": org,
            "phones": _sorted(
                p
                for p in links.phones_of_org.get(org_id, [])
                if not p.get("service_id") and not p.get("contact_id")
            ),
        }
    program_of_service: dict[str, str] = {}
    for service_id, service in data.services.items():
        label = f'service "{service.get("name")}" ({service_id})'
        owner = agencies.get(service.get("organization_id", ""))
        if owner is None:
            mapped.skipped.append(f"{label}: its organization is not in the source")
            continue
        named = overlay.programs.get(service_id)
        extra_p = named or ProgramOverlay()
        key = extra_p.key or known.program_keys.get(service_id, service_id)
        terms = _terms_of(data, links, service_id)
        services = list(extra_p.services or [])
        for term in terms:
            code = _code_for(term, overlay)
            if code is None:
                mapped.skipped.append(
                    f'{label}: taxonomy term "{term.get("code") or term["name"]}" has no code '
                    f"of {MAX_CODE} characters or fewer (map it in the overlay's taxonomy)"
                )
                continue
            if code not in known.codes:
                codes.setdefault(code, term["name"])
            services.append(code)
        # A program imported before keeps what the source does not say (codes, counties).
        services = services or known.program_codes.get(key, [])
        if not services:
            mapped.skipped.append(
                f"{label}: no taxonomy term names a service code (a program offers at least one)"
            )
            continue
        areas = _sorted(links.areas.get(service_id, []))
        wanted = (
            extra_p.counties
            if extra_p.counties is not None
            else _counties(areas, overlay, known.counties)
        ) or known.program_counties.get(key, [])
        if not wanted:
            mapped.skipped.append(
                f"{label}: no service area names a county closeloop knows (name one in the "
                "overlay's service_areas)"
            )
            continue
        program_of_service[service_id] = key
        owner["programs"].append(
            {
                "key": key,
                "name": service["name"],
                "services": list(dict.fromkeys(services)),
                "counties": wanted,
                "insurance": extra_p.insurance if named else known.insurance.get(key, []),
                # HSDS's "temporarily closed", "inactive" and "defunct" are closeloop's
                # no-referral status: the program receives nothing.
                "suspended": service.get("status", "active") != "active",
            }
        )
        program = data.programs.get(service.get("program_id", ""))
        mapped.program_extras[key] = {
            "service": service,
            "program": program,
            "service_areas": areas,
            "taxonomy_terms": _sorted(terms),
            "attributes": _sorted(
                a for a in links.attributes.get(service_id, []) if a.get("taxonomy_term_id")
            ),
            "phones": _sorted(
                p for p in links.phones_of_service.get(service_id, []) if not p.get("contact_id")
            ),
            "contacts": [],
        }
    for code, name in sorted(codes.items()):
        mapped.directory["services"].append({"code": code, "name": name})
    _map_contacts(data, links, overlay, agencies, program_of_service, mapped)
    return mapped


def _map_contacts(
    data: HsdsData,
    links: _Links,
    overlay: Overlay,
    agencies: dict[str, dict[str, Any]],
    program_of_service: dict[str, str],
    mapped: Mapped,
) -> None:
    people: dict[str, dict[str, Any]] = {}
    for contact_id, contact in data.contacts.items():
        label = f'contact "{contact.get("name") or contact_id}" ({contact_id})'
        email = (contact.get("email") or "").strip().lower()
        if not email:
            mapped.skipped.append(f"{label}: no email (closeloop reaches contacts by email)")
            continue
        extra = overlay.contacts.get(email) or overlay.contacts.get(contact_id)
        if extra is None:
            mapped.skipped.append(
                f"{label}: no roles in the overlay (a contact without a role receives nothing)"
            )
            continue
        if contact.get("service_id") in program_of_service:
            programs = [program_of_service[contact["service_id"]]]
            org = next(
                (
                    a
                    for a in agencies.values()
                    if any(p["key"] == programs[0] for p in a["programs"])
                ),
                None,
            )
        else:
            org = agencies.get(contact.get("organization_id", ""))
            programs = [p["key"] for p in org["programs"]] if org else []
        if not programs:
            mapped.skipped.append(f"{label}: no imported program of theirs to give roles on")
            continue
        phones = _sorted(links.phones_of_contact.get(contact_id, []))
        for key in programs:
            mapped.program_extras[key]["contacts"].append({**contact, "phones": phones})
        person = people.get(email)
        if person is None:
            person = {
                "email": email,
                "name": contact.get("name") or email,
                "agency": org["key"] if org else None,
                "user_mou_signed_on": extra.user_mou_signed_on,
                "slack_user_id": extra.slack_user_id,
                "roles": [],
            }
            people[email] = person
            mapped.directory["staff"].append(person)
        for key in programs:
            for role in extra.roles:
                grant = {"role": role.value, "program": key}
                if grant not in person["roles"]:
                    person["roles"].append(grant)


class _Links:
    """Each table's rows by the id they link to: one pass, so mapping stays linear."""

    def __init__(self, data: HsdsData) -> None:
        self.areas = _by(data.service_areas, "service_id")
        self.attributes = _by(data.attributes, "link_id")
        self.phones_of_org = _by(data.phones, "organization_id")
        self.phones_of_service = _by(data.phones, "service_id")
        self.phones_of_contact = _by(data.phones, "contact_id")


def _by(rows: dict[str, dict[str, Any]], link: str) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for row in rows.values():
        if row.get(link):
            out.setdefault(str(row[link]), []).append(row)
    return out


def _terms_of(data: HsdsData, links: _Links, service_id: str) -> list[dict[str, Any]]:
    terms = []
    for attribute in links.attributes.get(service_id, []):
        term = data.taxonomy_terms.get(attribute.get("taxonomy_term_id", ""))
        if term is not None and term not in terms:
            terms.append(term)
    return terms


def _code_for(term: dict[str, Any], overlay: Overlay) -> str | None:
    for ident in (term.get("code"), term.get("id"), term.get("name")):
        if ident and ident in overlay.taxonomy:
            return overlay.taxonomy[ident].strip().upper()
    code = str(term.get("code") or "").strip().upper()
    return code if 0 < len(code) <= MAX_CODE else None


def _counties(
    areas: list[dict[str, Any]], overlay: Overlay, counties: dict[str, str]
) -> list[str] | Literal["all"]:
    found: list[str] = []
    for area in areas:
        named = overlay.service_areas.get(area["id"]) or overlay.service_areas.get(
            area.get("name", "")
        )
        if named == "all":
            return "all"
        if named:
            found.extend(named)
            continue
        for text in (area.get("name"), area.get("extent")):
            fips = counties.get(str(text or "").strip().lower())
            if fips:
                found.append(fips)
                break
    return list(dict.fromkeys(found))


def _sorted(rows: Any) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: str(r.get("id")))
