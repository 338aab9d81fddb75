"""Benchmark: import an HSDS 3.0 CSV package of a state-sized directory (default 1,000
organizations, 3,000 services, 3,000 contacts) into a fresh SQLite database, first and again
(the idempotent re-import). The floor: the same directory as closeloop's own file, imported
the same way, so the difference is HSDS's reading, schema validation and mapping.

    .venv/bin/python bench/hsds_import.py [--orgs 1000] [--runs 3]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from bot.demo.seed import demo_directory
from bot.interop.hsds_map import Overlay, map_hsds
from bot.interop.hsds_read import datapackage_descriptor, schema, table_path
from bot.services.directory import import_directory, parse_directory
from bot.services.hsds import _known, import_hsds, read_hsds, read_overlay
from bot.settings import Settings
from storage.db import make_engine, make_session_factory, transaction
from storage.models import Base, County

NOW = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
CODES = ["RES", "DAY", "BEH", "RSP", "HSG", "EMP"]


def _id(*parts: object) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join(str(p) for p in parts)))


def write_package(folder: Path, orgs: int, counties: list[tuple[str, str]]) -> Path:
    tables: dict[str, list[dict[str, Any]]] = {
        "organization": [],
        "service": [],
        "service_area": [],
        "contact": [],
        "phone": [],
        "taxonomy_term": [],
        "attribute": [],
    }
    for code in CODES:
        tables["taxonomy_term"].append(
            {"id": _id("term", code), "code": code, "name": code, "description": code}
        )
    overlay: dict[str, Any] = {"version": 1, "agencies": {}, "contacts": {}}
    for o in range(orgs):
        org = _id("org", o)
        tables["organization"].append(
            {"id": org, "name": f"Agency {o}", "description": f"Agency number {o}"}
        )
        overlay["agencies"][org] = {"mou_signed_on": "2026-01-05"}
        for s in range(3):
            service = _id("service", o, s)
            tables["service"].append(
                {
                    "id": service,
                    "organization_id": org,
                    "name": f"Service {o}-{s}",
                    "status": "active",
                }
            )
            for k in range(2):
                fips, name = counties[(o * 3 + s + k) % len(counties)]
                tables["service_area"].append(
                    {
                        "id": _id("area", o, s, k),
                        "service_id": service,
                        "name": name,
                        "extent": fips,
                    }
                )
            code = CODES[(o + s) % len(CODES)]
            tables["attribute"].append(
                {
                    "id": _id("attr", o, s),
                    "link_id": service,
                    "link_type": "service_code",
                    "link_entity": "service",
                    "taxonomy_term_id": _id("term", code),
                }
            )
            email = f"intake{o}-{s}@agency{o}.example.org"
            contact = _id("contact", o, s)
            tables["contact"].append(
                {
                    "id": contact,
                    "organization_id": org,
                    "service_id": service,
                    "name": f"Intake {o}-{s}",
                    "email": email,
                }
            )
            tables["phone"].append(
                {"id": _id("phone", o, s), "contact_id": contact, "number": f"573-555-{s:04d}"}
            )
            overlay["contacts"][email] = {
                "roles": ["gatekeeper"],
                "user_mou_signed_on": "2026-01-05",
            }
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "datapackage.json").write_text(json.dumps(datapackage_descriptor()))
    for name, rows in tables.items():
        columns = [
            k
            for k, v in schema(name)["properties"].items()
            if "$ref" not in v and v.get("type") not in ("array", "object", None)
        ]
        with (folder / table_path(name)).open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)
    overlay_path = folder.parent / "overlay.json"
    overlay_path.write_text(json.dumps(overlay))
    return overlay_path


def fresh(tmp: Path, n: int) -> Any:
    url = f"sqlite:///{tmp / f'bench{n}.db'}"
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    sessions = make_session_factory(engine, settings=Settings(database_url=url), clock=lambda: NOW)
    base = demo_directory(NOW.date())
    with transaction(sessions) as s:
        # The counties and service codes only: the agencies are what is measured.
        only = {
            "version": 1,
            "regions": base["regions"],
            "counties": base["counties"],
            "services": base["services"],
        }
        import_directory(s, directory=parse_directory(only, source="demo"), source="demo")
    return engine, sessions


def timed(run: Callable[[], int]) -> tuple[float, int]:
    start = time.perf_counter()
    out = run()
    return time.perf_counter() - start, out


def hsds_import(sessions: Any, package: Path, overlay: Overlay) -> int:
    data = read_hsds(package)
    with transaction(sessions) as s:
        report = import_hsds(s, data=data, overlay=overlay, source="bench")
    return sum(report.result.created.values())


def native_import(sessions: Any, directory: dict[str, Any]) -> int:
    with transaction(sessions) as s:
        result = import_directory(s, directory=parse_directory(directory, source="f"), source="f")
    return sum(result.created.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orgs", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}")
    results: dict[str, list[float]] = {
        "hsds first": [],
        "hsds again": [],
        "floor first": [],
        "floor again": [],
    }
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        engine, sessions = fresh(tmp, 0)
        with transaction(sessions) as s:
            counties = [(c.fips, c.name) for c in s.query(County).order_by(County.fips)]
        engine.dispose()
        overlay_path = write_package(tmp / "package", args.orgs, counties)
        overlay: Overlay = read_overlay(overlay_path)
        created = 0
        package = tmp / "package"
        for run in range(args.runs):
            engine, sessions = fresh(tmp, run * 2 + 1)
            seconds, made = timed(partial(hsds_import, sessions, package, overlay))
            created = created or made
            results["hsds first"].append(seconds)
            results["hsds again"].append(timed(partial(hsds_import, sessions, package, overlay))[0])
            # The floor: what HSDS became, as closeloop's own directory file, on a fresh database.
            with transaction(sessions) as s:
                directory = map_hsds(read_hsds(package), overlay, _known(s)).directory
            engine.dispose()
            engine, sessions = fresh(tmp, run * 2 + 2)
            results["floor first"].append(timed(partial(native_import, sessions, directory))[0])
            results["floor again"].append(timed(partial(native_import, sessions, directory))[0])
            engine.dispose()
    print(
        f"{args.orgs} organizations, {args.orgs * 3} services, {args.orgs * 3} contacts; "
        f"{created} directory entries created"
    )
    for label, values in results.items():
        print(
            f"{label:12} min {min(values):.2f} s  median {statistics.median(values):.2f} s  "
            f"max {max(values):.2f} s"
        )
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
