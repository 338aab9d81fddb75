"""The app factory, /healthz, settings errors, the CLI's directory import and the demo."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from bot.app import create_app
from bot.settings import Settings, SettingsError, load_settings
from storage.db import make_engine
from tests.network import small_network


def _cli(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "SECRET_KEY"}}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        env={**clean, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _get(app: FastAPI, path: str) -> httpx.Response:
    async def fetch() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://closeloop") as client:
            return await client.get(path)

    return asyncio.run(fetch())


def test_healthz_answers_200_with_the_database_and_503_without(tmp_path: Path) -> None:
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'h.db'}"))
    response = _get(app, "/healthz")
    assert (response.status_code, response.json()) == (
        200,
        {"status": "ok", "database": "reachable"},
    )
    down = create_app(Settings(database_url="postgresql://nobody@127.0.0.1:1/none"))
    response = _get(down, "/healthz")
    assert (response.status_code, response.json()["database"]) == (503, "unreachable")


def test_importing_the_app_connects_to_nothing(tmp_path: Path) -> None:
    code = (
        "import socket, sys\n"
        "def refuse(*a, **k): raise SystemExit('connected at import')\n"
        "socket.socket.connect = refuse\n"
        "import bot.app, bot.cli, bot.runtime, handlers.console, storage.models\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=60
    )
    assert result.stdout.strip() == "ok", result.stderr


@pytest.mark.parametrize(
    ("env", "line"),
    [
        (
            {"DATABASE_URL": "mysql://x"},
            "setting DATABASE_URL: must start with sqlite:/// or postgresql://",
        ),
        (
            {"SECRET_KEY": "changeme"},
            "setting SECRET_KEY: is a placeholder; set a long random value",
        ),
        (
            {"TIMEZONE": "Mars/Olympus"},
            "setting TIMEZONE: 'Mars/Olympus' is not a known time zone (e.g. America/Chicago)",
        ),
        ({"SMTP_URL": "not a url"}, "setting SMTP_URL: must be a URL like scheme://host"),
        (
            {"CONSENT_REQUIRED": "perhaps"},
            "setting CONSENT_REQUIRED: Input should be a valid boolean, unable to interpret input",
        ),
    ],
)
def test_a_malformed_setting_stops_start_up_with_one_line(
    tmp_path: Path, env: dict[str, str], line: str
) -> None:
    result = _cli(["migrate"], tmp_path, **env)
    assert result.returncode == 2
    assert result.stderr.strip() == f"closeloop: {line}"
    assert result.stdout == ""


def test_load_settings_names_the_setting() -> None:
    with pytest.raises(SettingsError, match="setting PORT"):
        load_settings(port="eighty")


def test_directory_import_from_the_cli_is_idempotent(tmp_path: Path) -> None:

    file = tmp_path / "network.json"
    file.write_text(json.dumps(small_network()), encoding="utf-8")
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'd.db'}"}
    assert _cli(["migrate"], tmp_path, **env).returncode == 0
    first = _cli(["directory", "import", str(file)], tmp_path, **env)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith(
        "closeloop: Directory imported: 3 agencies created, 4 counties created"
    )
    second = _cli(["directory", "import", str(file)], tmp_path, **env)
    assert second.stdout.strip() == "closeloop: Directory unchanged."
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps({"agencies": [{"key": "a", "name": "A", "programs": [{"key": "p"}]}]}),
        encoding="utf-8",
    )
    refused = _cli(["directory", "import", str(bad)], tmp_path, **env)
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        f'closeloop: {bad}: agencies[0] (key "a") programs[0] (key "p") field "name": Field required.'
    )


def test_demo_prints_the_whole_loop(tmp_path: Path) -> None:
    result = _cli(["demo"], tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    steps = [line for line in out.splitlines() if line.startswith("=== ")]
    year = datetime.now(UTC).year
    assert steps == [
        f"=== Casey publishes county referral R-{year}-000001 (Boone County) ===",
        f"=== Casey publishes statewide referral R-{year}-000002 ===",
        "=== Grace (gatekeeper) assigns it to Dana at Heartland Residential ===",
        "=== Dana accepts with a provision (pending funding approval) ===",
        "=== Grace declines for Heartland Day Program (no vacancy) ===",
        "=== Casey marks it pending placement, then closes it (need fully met) ===",
        f"=== Audit trail of R-{year}-000001 ===",
    ]
    assert "Subject: [closeloop] Referral R-20" in out
    trail = out.split("=== Audit trail")[1].splitlines()[1:]
    assert [line.split()[-1] for line in trail] == [
        "referral_created",
        "referral_published",
        "referral_assigned",
        "response_given",
        "response_given",
        "referral_pending",
        "referral_closed",
    ]
    assert "Jordan" not in out and "Example" not in out.split("=== Audit trail")[0]


def test_sqlite_writers_wait_for_each_other_instead_of_failing(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'busy.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (n INTEGER)"))
    errors: list[Exception] = []

    def write() -> None:
        try:
            for _ in range(50):
                with engine.begin() as conn:
                    value = conn.execute(text("SELECT count(*) FROM t")).scalar()
                    conn.execute(text("INSERT INTO t VALUES (:n)"), {"n": value})
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with engine.begin() as conn:
        # Read-then-write under BEGIN IMMEDIATE: every insert saw every earlier one.
        assert conn.execute(text("SELECT count(*), count(DISTINCT n) FROM t")).one() == (400, 400)
    engine.dispose()
