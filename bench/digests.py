"""Benchmark: build every coordinator digest (and the reminder and escalation jobs) for
100,000 open referral-program pairs. Target: the digests under 2 s and 300 MB.

    .venv/bin/python bench/digests.py [--url postgresql://postgres@127.0.0.1:5432/bench_digests]
                                      [--pairs 100000] [--job thirty_day_reminders]

It creates (and drops) its own schema: point it at a throwaway database.
"""

from __future__ import annotations

import argparse
import random
import resource
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select, text

from bot.demo.seed import demo_directory
from bot.jobs import jobs
from bot.services.digests import daily_digests
from bot.services.directory import import_directory, parse_directory
from bot.services.escalations import overdue_escalations
from bot.services.reminders import thirty_day_reminders
from bot.settings import Settings
from storage.db import make_engine, make_session_factory, transaction
from storage.models import (
    Base,
    Client,
    County,
    Program,
    Recipient,
    Referral,
    Region,
    Staff,
    referral_counties,
)

NOW = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)


def seed(url: str, pairs: int) -> None:
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    Base.metadata.create_all(engine)
    sessions = make_session_factory(engine, settings=Settings(database_url=url), clock=lambda: NOW)
    with transaction(sessions) as s:
        import_directory(
            s,
            directory=parse_directory(
                demo_directory(NOW.date() - timedelta(days=400)), source="demo"
            ),
            source="demo",
        )
        for region in s.scalars(select(Region)):
            region.digest_channel = f"C{region.key.upper().replace('-', '')}"
    rng = random.Random(7)
    with engine.begin() as conn:
        counties = [r[0] for r in conn.execute(select(County.id))]
        programs = [r[0] for r in conn.execute(select(Program.id))]
        coordinator = conn.execute(select(Staff.id)).scalars().first()
        referrals = pairs // 2
        conn.execute(
            insert(Client),
            [
                {
                    "first_name": f"F{i}",
                    "last_name": f"L{i}",
                    "birth_date": datetime(1990, 1, 1).date(),
                    "guardians": [],
                    "created_at": NOW,
                }
                for i in range(referrals)
            ],
        )
        rows = []
        for i in range(referrals):
            published = NOW - timedelta(days=rng.randint(0, 200), hours=rng.randint(0, 23))
            rows.append(
                {
                    "number": f"R-2026-{i + 1:06d}",
                    "client_id": i + 1,
                    "facility_code": "CMO",
                    "primary_coordinator_id": coordinator,
                    "urgency": "routine",
                    "statewide": i % 10 == 0,
                    "state": "pending_placement" if i % 17 == 0 else "open",
                    "needs": rng.sample(["RES", "IHS", "DAY", "EMP", "BEH"], 2),
                    "publish_count": 1,
                    "first_published_at": published,
                    "last_published_at": published,
                    "created_at": published,
                }
            )
        conn.execute(insert(Referral), rows)
        conn.execute(
            insert(referral_counties),
            [{"referral_id": i + 1, "county_id": rng.choice(counties)} for i in range(referrals)],
        )
        recipients = []
        for i in range(referrals):
            for program in rng.sample(programs, 2):
                joined = rows[i]["first_published_at"]
                answered = rng.random() < 0.4
                recipients.append(
                    {
                        "referral_id": i + 1,
                        "program_id": program,
                        "active": True,
                        "joined_at": joined,
                        "joined_how": "published",
                        "response_version": 1 if answered else 0,
                        "response": rng.choice(["accept", "tentative", "decline"])
                        if answered
                        else None,
                        "responded_at": joined + timedelta(days=1) if answered else None,
                    }
                )
        conn.execute(insert(Recipient), recipients)
    if engine.dialect.name == "postgresql":
        # A live database has statistics (autovacuum analyses it); a freshly bulk-loaded one
        # does not, and the planner then picks nested loops that take seconds.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
    engine.dispose()


def measure(url: str, only: str | None = None) -> None:
    engine = make_engine(url)
    sessions = make_session_factory(engine, settings=Settings(database_url=url), clock=lambda: NOW)
    with engine.connect() as conn:
        pairs = conn.execute(text("SELECT count(*) FROM recipients")).scalar()
    print(f"engine: {engine.dialect.name}; open referral-program pairs: {pairs}")
    assert jobs("07:30")
    for name, job in [
        ("coordinator digests", daily_digests),
        ("30-day reminders", thirty_day_reminders),
        ("overdue escalations", overdue_escalations),
    ]:
        if only and job.__name__ != only:
            continue
        # Timed untraced (tracemalloc slows Python several-fold), then run again traced for the
        # peak of Python allocations. Each run is rolled back, so both build the same messages.
        started = time.perf_counter()
        with transaction(sessions) as s:
            written = job(s)
            s.rollback()
        elapsed = time.perf_counter() - started
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # before tracing's own
        tracemalloc.start()
        with transaction(sessions) as s:
            job(s)
            s.rollback()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        # The steady state: the same job the next day, once today's run has been committed.
        with transaction(sessions) as s:
            job(s)
        sessions.kw["info"]["clock"] = lambda: NOW + timedelta(days=1)
        started = time.perf_counter()
        with transaction(sessions) as s:
            again = job(s)
            s.rollback()
        next_day = time.perf_counter() - started
        sessions.kw["info"]["clock"] = lambda: NOW
        print(
            f"{name:22s} {elapsed:6.2f} s  {written:6d} messages  "
            f"python peak {peak / 2**20:6.1f} MiB  process max RSS {rss:6.1f} MiB  "
            f"| next day {next_day:5.2f} s, {again} messages"
        )
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default=None)
    parser.add_argument("--pairs", type=int, default=100_000)
    parser.add_argument(
        "--measure-only", action="store_true", help="skip seeding (run once with --seed-only)"
    )
    parser.add_argument("--seed-only", action="store_true")
    parser.add_argument(
        "--job",
        choices=["daily_digests", "thirty_day_reminders", "overdue_escalations"],
        help="measure this job alone (with --measure-only: the process's max RSS is its own)",
    )
    args = parser.parse_args()
    if args.url and (args.measure_only or args.seed_only):
        url = Settings(database_url=args.url).database_url
        if args.seed_only:
            seed(url, args.pairs)
        else:
            measure(url, args.job)  # a fresh process: its max RSS is the jobs' own
        return
    with tempfile.TemporaryDirectory() as folder:
        url = args.url or f"sqlite:///{Path(folder) / 'bench.db'}"
        if url.startswith("postgres"):
            url = Settings(database_url=url).database_url
        started = time.perf_counter()
        seed(url, args.pairs)
        print(f"seeded in {time.perf_counter() - started:.1f} s")
        measure(url, args.job)


if __name__ == "__main__":
    main()
