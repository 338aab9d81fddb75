"""`closeloop directory import --format hsds` and `export --format hsds` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

from tests.network import small_network
from tests.system.test_app_and_cli import _cli

EXAMPLES = Path(__file__).parents[1] / "fixtures" / "hsds"

OVERLAY = """\
version: 1
agencies:
  d9d5e0f5-d3ce-4f73-9a2f-4dd0ecc6c610: {mou_signed_on: 2026-01-05, mou_expires_on: 2027-01-04}
service_areas:
  381c64f1-a724-4884-9c21-ac96c21cca3e: [Boone County]
programs:
  ac148810-d857-441c-9679-408f346de14b: {services: [BEH]}
contacts:
  email@example.com: {roles: [gatekeeper, provider]}
"""


def test_hsds_import_shows_progress_and_export_round_trips(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'd.db'}"}
    network = tmp_path / "network.json"
    network.write_text(json.dumps(small_network()), encoding="utf-8")
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(OVERLAY, encoding="utf-8")
    assert _cli(["migrate"], tmp_path, **env).returncode == 0
    native = _cli(["directory", "import", str(network), "--progress"], tmp_path, **env)
    assert native.returncode == 0, native.stderr
    assert "importing" in native.stderr and "31/31" in native.stderr
    args = ["directory", "import", "--format", "hsds", str(EXAMPLES / "csv")]
    first = _cli([*args, "--overlay", str(overlay), "--progress"], tmp_path, **env)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith(
        "closeloop: Directory imported: 1 agencies created, 1 programs created, 2 roles created,"
        " 1 staff created."
    )
    assert "reading" in first.stderr and "importing" in first.stderr
    quiet = _cli([*args, "--overlay", str(overlay)], tmp_path, **env)
    # Off a terminal and without --progress: no bar.
    assert quiet.stderr == ""
    assert quiet.stdout.strip() == "closeloop: Directory unchanged."
    out = tmp_path / "export"
    exported = _cli(["directory", "export", "--format", "hsds", "--out", str(out)], tmp_path, **env)
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout.strip() == (f"closeloop: 4 organizations, 6 services written to {out}")
    assert sorted(p.name for p in out.iterdir())[:3] == [
        "attributes.csv",
        "contacts.csv",
        "datapackage.json",
    ]
    again = _cli(["directory", "import", "--format", "hsds", str(out)], tmp_path, **env)
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("closeloop: Directory imported: 9 HSDS record(s) updated.")
    assert "created" not in again.stdout
    bad = _cli(
        ["directory", "import", "--format", "hsds", str(tmp_path / "nowhere")], tmp_path, **env
    )
    assert bad.returncode == 1
    assert bad.stderr.strip() == f"closeloop: {tmp_path / 'nowhere'}: no such file or folder."
