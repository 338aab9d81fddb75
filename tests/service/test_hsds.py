"""The directory from Open Referral HSDS 3.0: the official examples import, re-import changes
nothing, the export round-trips, and a bad file is refused whole naming file, row and field."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.errors import InvalidInput
from bot.interop.hsds_map import Overlay
from bot.interop.hsds_read import HsdsData, datapackage_descriptor, read_package, schema
from bot.interop.hsds_write import organizations_json, tables_of, write_package
from bot.services.hsds import export_hsds, import_hsds, read_hsds
from storage.db import transaction
from storage.models import Agency, AuditEvent, Program, RoleGrant, ServiceCode, Staff

EXAMPLES = Path(__file__).parents[1] / "fixtures" / "hsds"
ORG = "d9d5e0f5-d3ce-4f73-9a2f-4dd0ecc6c610"
SERVICE = "ac148810-d857-441c-9679-408f346de14b"
AREA = "381c64f1-a724-4884-9c21-ac96c21cca3e"

# What the examples lack for closeloop: the MOU, a county for "the MyCity area", a code for the
# CSV form's service (its attribute links elsewhere), the contact's roles.
OVERLAY = Overlay.model_validate(
    {
        "agencies": {ORG: {"mou_signed_on": "2026-01-05", "mou_expires_on": "2027-01-04"}},
        "service_areas": {AREA: ["Boone County", "29051"]},
        "programs": {SERVICE: {"services": ["BEH"]}},
        "contacts": {"email@example.com": {"roles": ["gatekeeper"]}},
    }
)


def _import(sessions: sessionmaker[Session], data: HsdsData, overlay: Overlay = OVERLAY) -> Any:
    with transaction(sessions) as session:
        return import_hsds(session, data=data, overlay=overlay, source="examples")


def _snapshot(session: Session) -> dict[str, Any]:
    program = session.scalar(select(Program).where(Program.key == SERVICE))
    assert program is not None
    return {
        "program": (
            program.name,
            program.suspended,
            sorted(c.fips for c in program.counties),
            sorted(s.code for s in program.services),
            program.hsds,
        ),
        "agency": [
            (a.key, a.name, a.mou_signed_on, a.hsds) for a in session.scalars(select(Agency))
        ],
        "codes": sorted((s.code, s.name) for s in session.scalars(select(ServiceCode))),
        "roles": sorted(
            (g.staff.email, g.role.value, g.program_id, g.revoked_at is None)
            for g in session.scalars(select(RoleGrant))
        ),
        "audit": session.scalar(select(func.count()).select_from(AuditEvent)),
    }


@pytest.mark.parametrize("form", ["csv", "service_full.json", "organization_full.json"])
def test_the_official_examples_import_and_reimport_changes_nothing(
    network: sessionmaker[Session], form: str
) -> None:
    data = read_hsds(EXAMPLES / form)
    report = _import(network, data)
    assert report.result.created["agencies"] == 1
    assert report.result.created["programs"] == 1
    with transaction(network) as session:
        program = session.scalar(select(Program).where(Program.key == SERVICE))
        assert program is not None
        assert program.name == "Community Counselling"
        assert program.agency.name == "Example Organization Inc."
        assert program.agency.key == ORG
        assert program.suspended is False
        assert sorted(c.name for c in program.counties) == ["Boone County", "Cole County"]
        codes = sorted(s.code for s in program.services)
        # The JSON forms carry the service's taxonomy term (code "code"); the CSV form's
        # attribute links to another id, so only the overlay's code applies there.
        assert codes == (["BEH"] if form == "csv" else ["BEH", "CODE"])
        contact = session.scalar(select(Staff).where(Staff.email == "email@example.com"))
        assert contact is not None and contact.name == "Ann Persona"
        assert [(g.role.value, g.program_id) for g in contact.roles] == [("gatekeeper", program.id)]
        assert program.hsds is not None
        assert program.hsds["program"]["name"] == "Community Mental Health Support"
        assert [p["number"] for p in program.hsds["contacts"][0]["phones"]] == ['"+44 1234 234567"']
        before = _snapshot(session)
    again = _import(network, read_hsds(EXAMPLES / form))
    assert not again.changed
    assert again.summary().startswith("Directory unchanged.")
    with transaction(network) as session:
        assert _snapshot(session) == before


def test_the_report_names_what_was_skipped_and_why(network: sessionmaker[Session]) -> None:
    report = _import(network, read_hsds(EXAMPLES / "csv"), Overlay())
    assert report.result.created["agencies"] == 1
    assert report.result.created.get("programs", 0) == 0
    assert report.skipped == [
        'service "Community Counselling" (ac148810-d857-441c-9679-408f346de14b): no taxonomy '
        "term names a service code (a program offers at least one)",
        'contact "Ann Persona" (1e7efce3-639b-4880-940c-b95cd30cdb50): no roles in the overlay '
        "(a contact without a role receives nothing)",
    ]
    assert "2 skipped:" in report.summary()


def test_a_changed_source_updates_in_place(network: sessionmaker[Session]) -> None:
    data = read_hsds(EXAMPLES / "service_full.json")
    _import(network, data)
    data.services[SERVICE]["name"] = "Community Counselling (online)"
    data.services[SERVICE]["status"] = "temporarily closed"
    report = _import(network, data)
    assert report.result.updated["programs"] == 1
    assert report.result.created.get("programs", 0) == 0
    with transaction(network) as session:
        program = session.scalar(select(Program).where(Program.key == SERVICE))
        assert program is not None
        assert (program.name, program.suspended) == ("Community Counselling (online)", True)
        assert session.scalar(select(func.count()).select_from(Program)) == 6


def _kept(data: HsdsData) -> dict[str, dict[str, dict[str, Any]]]:
    return {name: rows for name, rows in tables_of(data).items()}


def test_export_round_trips_the_fields_kept(network: sessionmaker[Session], tmp_path: Path) -> None:
    source = read_hsds(EXAMPLES / "service_full.json")
    _import(network, source)
    with transaction(network) as session:
        exported = export_hsds(session)
    write_package(exported, tmp_path / "out")
    # Read back through the importer's own validation: the export is valid HSDS.
    back = read_package(tmp_path / "out")
    ours = {k: v for k, v in back.services.items() if k == SERVICE}
    assert ours == {SERVICE: {**source.services[SERVICE], "organization_id": ORG}}
    assert back.organizations[ORG] == source.organizations[ORG]
    program_id = source.services[SERVICE]["program_id"]
    assert back.programs[program_id] == source.programs[program_id]
    assert back.service_areas[AREA] == source.service_areas[AREA]
    for table in ("contacts", "phones", "taxonomy_terms", "attributes"):
        original = getattr(source, table)
        assert {k: getattr(back, table)[k] for k in original} == original, table
    # The JSON form validates against HSDS's organization schema, and imports to no change.
    validator = jsonschema_rs.validator_for(schema("organization"), retriever=_local)
    orgs = organizations_json(exported)
    for org in orgs:
        assert validator.is_valid(org)
    (tmp_path / "orgs.json").write_text(json.dumps(orgs))
    again = _import(network, read_hsds(tmp_path / "orgs.json"))
    assert not again.result.changed
    # The package form links phones to both their service and contact, the JSON form nests
    # them once: their HSDS records may differ, closeloop's directory does not.
    assert not _import(network, back).result.changed
    assert not _import(network, read_package(tmp_path / "out")).changed


def _local(uri: str) -> dict[str, Any]:
    return schema(uri.rsplit("/", 1)[-1].removesuffix(".json"))


def test_a_data_package_descriptor_names_the_tables(
    network: sessionmaker[Session], tmp_path: Path
) -> None:
    folder = tmp_path / "package"
    shutil.copytree(EXAMPLES / "csv", folder)
    (folder / "services.csv").rename(folder / "our-services.csv")
    descriptor = datapackage_descriptor()
    for resource in descriptor["resources"]:
        if resource["name"] == "service":
            resource["path"] = "our-services.csv"
    (folder / "datapackage.json").write_text(json.dumps(descriptor))
    data = read_hsds(folder / "datapackage.json")
    assert list(data.services) == [SERVICE]


def test_an_invalid_row_refuses_the_whole_file(
    network: sessionmaker[Session], tmp_path: Path
) -> None:
    folder = tmp_path / "bad"
    shutil.copytree(EXAMPLES / "csv", folder)
    services = (folder / "services.csv").read_text().replace(",active,", ",open,", 1)
    (folder / "services.csv").write_text(services)
    with pytest.raises(InvalidInput) as caught:
        read_hsds(folder)
    assert caught.value.message.startswith(
        'services.csv: row 2 field "status": "open" is not one of "active", "inactive"'
    )
    assert caught.value.field == "status"
    bad_age = (EXAMPLES / "csv" / "services.csv").read_text().replace(",12,100,", ",twelve,100,")
    (folder / "services.csv").write_text(bad_age)
    with pytest.raises(InvalidInput) as caught:
        read_hsds(folder)
    assert (
        caught.value.message == 'services.csv: row 2 field "minimum_age": "twelve" is not a number.'
    )


def test_an_invalid_json_object_is_refused_naming_the_field(tmp_path: Path) -> None:
    raw = json.loads((EXAMPLES / "service_full.json").read_text())
    raw["contacts"][0]["phones"][0]["number"] = 5
    (tmp_path / "s.json").write_text(json.dumps(raw))
    with pytest.raises(InvalidInput) as caught:
        read_hsds(tmp_path / "s.json")
    assert caught.value.message == (
        's.json: service (id "ac148810-d857-441c-9679-408f346de14b") field '
        '"contacts.0.phones.0.number": 5 is not of type "string".'
    )


@pytest.mark.parametrize("form", ["organization_list.json", "service_list.json"])
def test_the_official_list_pages_import(network: sessionmaker[Session], form: str) -> None:
    report = _import(network, read_hsds(EXAMPLES / form))
    assert report.result.created["agencies"] == 1
    with transaction(network) as session:
        agency = session.scalar(select(Agency).where(Agency.key == ORG))
        assert agency is not None and agency.name == "Example Organization Inc."
    assert not _import(network, read_hsds(EXAMPLES / form)).changed


def test_other_hsds_objects_are_refused_as_not_an_organization_or_service() -> None:
    with pytest.raises(InvalidInput) as caught:
        read_hsds(EXAMPLES / "location.json")
    assert caught.value.message == (
        'location.json: item (id "3a19ff88-4620-4d17-9830-ac1d859eb5d5") is neither an HSDS '
        'organization nor a service (field "accessibility" belongs to neither).'
    )
