"""Reading Open Referral HSDS 3.0: the tabular data package and the JSON form, validated whole."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema_rs

from bot.errors import InvalidInput

SCHEMA_DIR = Path(__file__).parent / "hsds_schema"

# The tables closeloop reads, by HSDS object name; every other table of a package is ignored.
TABLES = (
    "organization",
    "program",
    "service",
    "service_area",
    "contact",
    "phone",
    "taxonomy",
    "taxonomy_term",
    "attribute",
)

Progress = Callable[[str, int], None]


@dataclass
class HsdsData:
    """The HSDS objects closeloop reads, flat, by id: one shape for both forms."""

    organizations: dict[str, dict[str, Any]] = field(default_factory=dict)
    programs: dict[str, dict[str, Any]] = field(default_factory=dict)
    services: dict[str, dict[str, Any]] = field(default_factory=dict)
    service_areas: dict[str, dict[str, Any]] = field(default_factory=dict)
    contacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    phones: dict[str, dict[str, Any]] = field(default_factory=dict)
    taxonomy_terms: dict[str, dict[str, Any]] = field(default_factory=dict)
    attributes: dict[str, dict[str, Any]] = field(default_factory=dict)

    def rows(self) -> int:
        return sum(
            len(t)
            for t in (
                self.organizations,
                self.programs,
                self.services,
                self.service_areas,
                self.contacts,
                self.phones,
                self.taxonomy_terms,
                self.attributes,
            )
        )


@cache
def _schemas() -> dict[str, dict[str, Any]]:
    return {
        p.name: json.loads(p.read_text(encoding="utf-8")) for p in sorted(SCHEMA_DIR.glob("*.json"))
    }


def schema(name: str) -> dict[str, Any]:
    """The HSDS JSON Schema of one object (`service`, `organization`...)."""
    return _schemas()[f"{name}.json"]


def _retrieve(uri: str) -> dict[str, Any]:
    # The schemas refer to each other by file name ("phone.json"): resolve them from our copy.
    name = uri.rsplit("/", 1)[-1]
    found = _schemas().get(name)
    if found is None:
        raise ValueError(f"unknown HSDS schema {uri}")
    return found


@cache
def _validator(name: str) -> Any:
    return jsonschema_rs.validator_for(schema(name), retriever=_retrieve)


@cache
def _row_validator(name: str) -> Any:
    """The schema of one CSV row: the object's own columns, without its nested lists."""
    whole = schema(name)
    columns = {k: v for k, v in whole["properties"].items() if _is_column(v)}
    flat = {"type": "object", "properties": columns, "required": whole.get("required", [])}
    return jsonschema_rs.validator_for(flat)


def _is_column(prop: dict[str, Any]) -> bool:
    return "$ref" not in prop and prop.get("type") not in ("array", "object", None)


def table_path(name: str) -> str:
    """The CSV file name HSDS gives a table (`services.csv`)."""
    return str(schema(name)["path"])


def datapackage_descriptor() -> dict[str, Any]:
    """The tabular data package descriptor of the tables closeloop reads and writes."""
    resources = []
    for name in TABLES:
        s = schema(name)
        fields = [
            {"name": k, "type": _frictionless_type(v)}
            for k, v in s["properties"].items()
            if _is_column(v)
        ]
        resources.append(
            {
                "name": name,
                "path": s["path"],
                "profile": "tabular-data-resource",
                "format": "csv",
                "mediatype": "text/csv",
                "schema": {"fields": fields, "primaryKey": "id"},
            }
        )
    return {
        "name": "human_services_data",
        "profile": "tabular-data-package",
        "version": "3.0",
        "resources": resources,
    }


def _frictionless_type(prop: dict[str, Any]) -> str:
    kind = str(prop.get("type", "string"))
    if kind == "string" and prop.get("format") in ("date", "date-time", "time"):
        return str(prop["format"]).replace("-", "")
    return kind


def _first_error(validator: Any, instance: Any) -> tuple[str, str] | None:
    """(field path, message) of the first schema violation, or None."""
    for error in validator.iter_errors(instance):
        path = list(error.instance_path)
        if not path and "required" in list(error.schema_path):
            return _missing_field(error.message), error.message
        return ".".join(str(p) for p in path) or "(whole object)", error.message
    return None


def _missing_field(message: str) -> str:
    # jsonschema_rs words it '"status" is a required property'
    return message.split('"')[1] if message.count('"') >= 2 else "(whole object)"


# --- The tabular data package -------------------------------------------------------------------


def read_package(path: Path, progress: Progress | None = None) -> HsdsData:
    """A directory of HSDS CSV tables (or its datapackage.json): every row validated against its
    table's schema before anything is used; the first bad row refuses the whole package."""
    folder = path.parent if path.is_file() else path
    files = _resource_files(folder)
    data = HsdsData()
    targets: dict[str, dict[str, dict[str, Any]]] = {
        "organization": data.organizations,
        "program": data.programs,
        "service": data.services,
        "service_area": data.service_areas,
        "contact": data.contacts,
        "phone": data.phones,
        "taxonomy_term": data.taxonomy_terms,
        "attribute": data.attributes,
    }
    for name, target in targets.items():
        file = files.get(name)
        if file is None or not file.exists():
            continue
        for line, row in _csv_rows(file):
            _check_row(file, line, name, row)
            if row["id"] in target:
                raise InvalidInput(
                    f'{file.name}: row {line} field "id": "{row["id"]}" is used twice.', field="id"
                )
            target[row["id"]] = row
            if progress:
                progress(name, 1)
    if not data.organizations:
        raise InvalidInput(
            f"{folder}: no organizations found (expected {table_path('organization')}).",
            field="file",
        )
    return data


def _resource_files(folder: Path) -> dict[str, Path]:
    descriptor = folder / "datapackage.json"
    if not descriptor.exists():
        return {name: folder / table_path(name) for name in TABLES}
    try:
        package = json.loads(descriptor.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InvalidInput(
            f"{descriptor}: not a data package descriptor ({exc}).", field="file"
        ) from None
    resources = package.get("resources") if isinstance(package, dict) else None
    if not isinstance(resources, list):
        raise InvalidInput(
            f'{descriptor}: field "resources": a list is required.', field="resources"
        )
    found: dict[str, Path] = {}
    for i, res in enumerate(resources):
        if not isinstance(res, dict) or not isinstance(res.get("path"), str):
            raise InvalidInput(
                f'{descriptor}: resources[{i}] field "path": a file name is required.', field="path"
            )
        if res.get("name") in TABLES:
            found[str(res["name"])] = folder / res["path"]
    return found


def _csv_rows(file: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        with file.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            for row in reader:
                # Line numbers as a spreadsheet shows them: the header is row 1.
                yield reader.line_num, {k: v for k, v in row.items() if k and v not in ("", None)}
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InvalidInput(f"{file}: cannot be read as CSV ({exc}).", field="file") from None


def _check_row(file: Path, line: int, name: str, row: dict[str, Any]) -> None:
    props = schema(name)["properties"]
    for key, value in list(row.items()):
        kind = props.get(key, {}).get("type")
        if kind in ("number", "integer"):
            try:
                number = float(value)
            except ValueError:
                raise InvalidInput(
                    f'{file.name}: row {line} field "{key}": "{value}" is not a number.', field=key
                ) from None
            row[key] = int(number) if number.is_integer() else number
        elif kind == "boolean":
            row[key] = value.strip().lower() in ("true", "1", "yes")
    problem = _first_error(_row_validator(name), row)
    if problem is not None:
        where, message = problem
        raise InvalidInput(f'{file.name}: row {line} field "{where}": {message}.', field=where)


# --- The JSON form ------------------------------------------------------------------------------


def read_json(path: Path, progress: Progress | None = None) -> HsdsData:
    """HSDS JSON: an organization or a service (full, with nested objects), a list of them, or
    an API page of them (`contents`); each validated against the HSDS JSON Schema."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot be read ({exc.strerror}).", field="file") from None
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{path}: not valid JSON: {exc}", field="file") from None
    items = raw.get("contents") if isinstance(raw, dict) and "contents" in raw else raw
    items = items if isinstance(items, list) else [items]
    data = HsdsData()
    for i, item in enumerate(items):
        where = f"[{i}]" if len(items) > 1 or isinstance(raw, list) else ""
        if not isinstance(item, dict):
            raise InvalidInput(f"{path.name}: item {where}: an object is required.", field="file")
        kind = _kind_of(item)
        if kind is None:
            stray = sorted(set(item) - set(schema("organization")["properties"]) - {"services"})
            raise InvalidInput(
                f'{path.name}: item{where} (id "{item.get("id")}") is neither an HSDS organization '
                f'nor a service (field "{stray[0]}" belongs to neither).',
                field=stray[0],
            )
        problem = _first_error(_validator(kind), item)
        if problem is not None:
            at, message = problem
            raise InvalidInput(
                f'{path.name}: {kind}{where} (id "{item.get("id")}") field "{at}": {message}.',
                field=at,
            )
        if kind == "service":
            _take_service(data, item, organization_id=None)
        else:
            _take_organization(data, item)
        if progress:
            progress(kind, 1)
    if not data.organizations:
        raise InvalidInput(f"{path.name}: no organization found.", field="file")
    return data


def _kind_of(item: dict[str, Any]) -> str | None:
    """ "service" or "organization" when every field is one of that object's (an organization
    may nest its services); None for anything else (a location, a taxonomy term...)."""
    keys = set(item)
    if keys <= set(schema("service")["properties"]) and (
        "status" in keys or "organization" in keys
    ):
        return "service"
    if keys <= set(schema("organization")["properties"]) | {"services"}:
        return "organization"
    return None


def _own(item: dict[str, Any], name: str) -> dict[str, Any]:
    props = schema(name)["properties"]
    return {k: v for k, v in item.items() if k in props and _is_column(props[k]) and v is not None}


def _take_organization(data: HsdsData, item: dict[str, Any]) -> None:
    org = _own(item, "organization")
    data.organizations[org["id"]] = org
    for program in item.get("programs") or []:
        data.programs[program["id"]] = {**_own(program, "program"), "organization_id": org["id"]}
    for contact in item.get("contacts") or []:
        _take_contact(data, contact, organization_id=org["id"], service_id=None)
    for phone in item.get("phones") or []:
        _take_phone(data, phone, organization_id=org["id"])
    for service in item.get("services") or []:
        _take_service(data, service, organization_id=org["id"])


def _take_service(data: HsdsData, item: dict[str, Any], organization_id: str | None) -> None:
    service = _own(item, "service")
    org = item.get("organization")
    if isinstance(org, dict) and org.get("id"):
        if org["id"] not in data.organizations:
            data.organizations[org["id"]] = _own(org, "organization")
        organization_id = org["id"]
    if organization_id:
        service["organization_id"] = organization_id
    program = item.get("program")
    if isinstance(program, dict) and program.get("id"):
        data.programs[program["id"]] = {
            **_own(program, "program"),
            "organization_id": organization_id,
        }
        service["program_id"] = program["id"]
    data.services[service["id"]] = service
    for area in item.get("service_areas") or []:
        data.service_areas[area["id"]] = {**_own(area, "service_area"), "service_id": service["id"]}
    for contact in item.get("contacts") or []:
        _take_contact(data, contact, organization_id=organization_id, service_id=service["id"])
    for phone in item.get("phones") or []:
        _take_phone(data, phone, service_id=service["id"])
    for attribute in item.get("attributes") or []:
        term = attribute.get("taxonomy_term")
        row = {
            **_own(attribute, "attribute"),
            "link_id": service["id"],
            "link_entity": "service",
        }
        if isinstance(term, dict) and term.get("id"):
            data.taxonomy_terms[term["id"]] = _own(term, "taxonomy_term")
            row["taxonomy_term_id"] = term["id"]
        data.attributes[row["id"]] = row


def _take_contact(
    data: HsdsData, item: dict[str, Any], *, organization_id: str | None, service_id: str | None
) -> None:
    contact = _own(item, "contact")
    if organization_id and "organization_id" not in contact:
        contact["organization_id"] = organization_id
    if service_id:
        contact["service_id"] = service_id
    data.contacts[contact["id"]] = contact
    for phone in item.get("phones") or []:
        _take_phone(data, phone, contact_id=contact["id"])


def _take_phone(data: HsdsData, item: dict[str, Any], **link: str) -> None:
    # One phone may be listed under a service and under its contact: it keeps both links.
    data.phones[item["id"]] = {**data.phones.get(item["id"], {}), **_own(item, "phone"), **link}
