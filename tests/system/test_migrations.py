"""`closeloop migrate` from empty on both engines, and the models agree with the migrations."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import event, inspect, text

from storage.db import make_engine
from storage.migrate import alembic_config, differences, upgrade
from storage.models import Base
from tests.conftest import IN_CI, POSTGRES_URL, postgres_url


def _run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        env={**os.environ, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_migrate_from_empty_on_sqlite_via_the_cli(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    result = _run(["migrate"], {"DATABASE_URL": url}, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "closeloop: database is up to date"
    engine = make_engine(url)
    assert set(inspect(engine).get_table_names()) == set(Base.metadata.tables) | {"alembic_version"}
    assert differences(engine) == []
    # A second run is a no-op.
    assert _run(["migrate"], {"DATABASE_URL": url}, tmp_path).returncode == 0
    engine.dispose()


@pytest.mark.postgres
def test_migrate_from_empty_on_postgresql() -> None:
    url = postgres_url()
    admin = make_engine(url)
    with admin.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS migrations_check CASCADE"))
        conn.execute(text("CREATE SCHEMA migrations_check"))
    admin.dispose()
    engine = make_engine(url)
    # Migrate into a schema of its own, so the shared test schema is left alone.

    @event.listens_for(engine, "connect")
    def _search_path(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET search_path TO migrations_check")
        dbapi_connection.commit()

    upgrade(engine)
    tables = set(inspect(engine).get_table_names(schema="migrations_check"))
    assert tables == set(Base.metadata.tables) | {"alembic_version"}
    assert differences(engine) == []
    with engine.connect() as conn:
        compression = conn.scalar(
            text(
                "SELECT attcompression FROM pg_attribute"
                " WHERE attrelid = 'migrations_check.outbox'::regclass AND attname = 'payload'"
            )
        )
    assert compression == "l"  # lz4, as create_all makes it (storage.models)
    engine.dispose()
    with make_engine(url).begin() as conn:
        conn.execute(text("DROP SCHEMA migrations_check CASCADE"))


def test_ci_has_postgres() -> None:
    """In CI the PostgreSQL half of the suite must run, not quietly vanish."""
    if IN_CI:
        assert POSTGRES_URL, "CI must set TEST_DATABASE_URL"


def test_upgrade_from_schedule_marks_repeats_no_reminder_and_no_escalation(
    tmp_path: Path,
) -> None:
    """0010 and 0011 replace the per-person marks: whoever was reminded keeps the day of their
    last reminder (one watermark per person), and every pair escalated to anyone stays
    escalated (one row per pair), so the upgrade repeats nothing."""

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0009")
    with engine.begin() as conn:
        for staff_id in (1, 2, 3):
            conn.execute(
                text(
                    "INSERT INTO staff (id, email, name, active, notify_email,"
                    " wants_digest_email, email_bouncing, created_at)"
                    " VALUES (:id, :email, 'Someone', 1, 1, 0, 0, '2026-01-01 00:00:00')"
                ),
                {"id": staff_id, "email": f"s{staff_id}@example.org"},
            )
        marks = [
            (1, "reminder", 10, 1, "2026-03-31 12:00:00"),
            (1, "reminder", 11, 2, "2026-04-30 12:00:00"),
            (2, "reminder", 10, 1, "2026-03-31 12:00:00"),
            (3, "overdue", 10, 0, "2026-03-09 13:00:00"),
            (2, "overdue", 10, 0, "2026-03-09 13:00:00"),
            (2, "overdue", 12, 0, "2026-03-10 13:00:00"),
        ]
        for staff_id, job, referral_id, period, at in marks:
            conn.execute(
                text(
                    "INSERT INTO schedule_marks"
                    " (job, staff_id, referral_id, program_id, period, created_at)"
                    " VALUES (:job, :staff, :referral, 1, :period, :at)"
                ),
                {
                    "job": job,
                    "staff": staff_id,
                    "referral": referral_id,
                    "period": period,
                    "at": at,
                },
            )
    upgrade(engine)
    with engine.connect() as conn:
        watermarks = conn.execute(
            text("SELECT staff_id, through FROM reminder_watermarks ORDER BY staff_id")
        ).all()
        escalated = conn.execute(
            text("SELECT referral_id, program_id, escalated_at FROM escalations ORDER BY id")
        ).all()
    assert [tuple(w) for w in watermarks] == [(1, "2026-04-30"), (2, "2026-03-31")]
    assert [tuple(e) for e in escalated] == [
        (10, 1, "2026-03-09 13:00:00"),
        (12, 1, "2026-03-10 13:00:00"),
    ]
    assert "schedule_marks" not in inspect(engine).get_table_names()
    assert differences(engine) == []
    engine.dispose()
