"""Writing Open Referral HSDS 3.0: a tabular data package, or the JSON form (organizations)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from bot.interop.hsds_read import TABLES, HsdsData, datapackage_descriptor, schema, table_path


def tables_of(data: HsdsData) -> dict[str, dict[str, dict[str, Any]]]:
    return {
        "organization": data.organizations,
        "program": data.programs,
        "service": data.services,
        "service_area": data.service_areas,
        "contact": data.contacts,
        "phone": data.phones,
        "taxonomy_term": data.taxonomy_terms,
        "attribute": data.attributes,
    }


def write_package(data: HsdsData, folder: Path) -> list[Path]:
    """datapackage.json and one CSV per table, columns in the schema's order."""
    folder.mkdir(parents=True, exist_ok=True)
    written = [folder / "datapackage.json"]
    written[0].write_text(json.dumps(datapackage_descriptor(), indent=2) + "\n", encoding="utf-8")
    tables = tables_of(data)
    for name in TABLES:
        rows = tables.get(name, {})
        columns = [
            k
            for k, v in schema(name)["properties"].items()
            if "$ref" not in v and v.get("type") not in ("array", "object", None)
        ]
        path = folder / table_path(name)
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
            writer.writeheader()
            for row_id in sorted(rows):
                writer.writerow({k: _cell(v) for k, v in rows[row_id].items()})
        written.append(path)
    return written


def _cell(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def organizations_json(data: HsdsData) -> list[dict[str, Any]]:
    """Each organization with its services nested (HSDS's organization_full shape)."""
    out = []
    for org_id in sorted(data.organizations):
        org = dict(data.organizations[org_id])
        org["phones"] = _phones(data, organization_id=org_id)
        org["programs"] = [
            _plain(p)
            for p in sorted(data.programs.values(), key=_id)
            if p.get("organization_id") == org_id
        ]
        org["services"] = [
            _service(data, s)
            for s in sorted(data.services.values(), key=_id)
            if s.get("organization_id") == org_id
        ]
        out.append(org)
    return out


def _id(row: dict[str, Any]) -> str:
    return str(row.get("id"))


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != "organization_id"}


def _phones(data: HsdsData, **link: str) -> list[dict[str, Any]]:
    ((key, value),) = link.items()
    return [
        {k: v for k, v in p.items() if not k.endswith("_id")}
        for p in sorted(data.phones.values(), key=_id)
        if p.get(key) == value
        and all(not p.get(other) for other in ("service_id", "contact_id") if other != key)
    ]


def _service(data: HsdsData, service: dict[str, Any]) -> dict[str, Any]:
    sid = service["id"]
    out = {k: v for k, v in service.items() if k not in ("organization_id", "program_id")}
    out["phones"] = _phones(data, service_id=sid)
    out["service_areas"] = [
        {k: v for k, v in a.items() if k != "service_id"}
        for a in sorted(data.service_areas.values(), key=_id)
        if a.get("service_id") == sid
    ]
    out["contacts"] = [
        {
            **{k: v for k, v in c.items() if k not in ("service_id", "organization_id")},
            "phones": _phones(data, contact_id=c["id"]),
        }
        for c in sorted(data.contacts.values(), key=_id)
        if c.get("service_id") == sid
    ]
    out["attributes"] = [
        {
            **{k: v for k, v in a.items() if k not in ("link_id", "taxonomy_term_id")},
            "taxonomy_term": data.taxonomy_terms[a["taxonomy_term_id"]],
        }
        for a in sorted(data.attributes.values(), key=_id)
        if a.get("link_id") == sid and a.get("taxonomy_term_id") in data.taxonomy_terms
    ]
    if service.get("program_id") in data.programs:
        out["program"] = _plain(data.programs[service["program_id"]])
    return out
