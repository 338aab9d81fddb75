"""Benchmark: client search and the duplicate check on a create, over 200,000 clients.

    PYTHONPATH=. .venv/bin/python bench/client_search.py [--url URL] [--clients 200000] [--runs 50]

The default URL is a throwaway SQLite file in the working directory (the embedded default);
pass a PostgreSQL URL to measure there (its `public` schema is dropped and recreated). Seeding
writes clients in batches with Core inserts (keys folded as the service does). Measuring runs the
real `search_clients` and `find_matches` with a coordinator's actor, each case `--runs` times,
and prints p50 / p95 / max per case; the floor is a primary-key read in the same session.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from collections.abc import Callable
from datetime import date, timedelta

from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from bot.actors import actor_by_email
from bot.domain.identity import Person, external_key, fold, phone_key
from bot.domain.vocab import Channel
from bot.services.clients import find_matches, search_clients
from bot.services.directory import import_directory, parse_directory
from storage.db import make_engine, make_session_factory, transaction
from storage.migrate import upgrade
from storage.models import Client
from tests.network import COORD, small_network

FIRST = [
    "James",
    "Mary",
    "Robert",
    "María",
    "José",
    "Linda",
    "David",
    "Ana",
    "Sean",
    "Grace",
    "Omar",
    "Lucía",
    "Noah",
    "Emma",
    "Liam",
]
LAST = [
    "Smith",
    "Johnson",
    "García-López",
    "Nguyen",
    "O'Brien",
    "Pérez",
    "Ramírez",
    "Walsh",
    "Haddad",
    "Kim",
    "Clark",
    "Miller",
    "Davis",
    "Baker",
    "Chen",
    "Lopez",
    "Hernández",
    "Fernández",
    "Ortiz",
    "Brown",
    "Jones",
    "Lee",
    "Stone",
    "Park",
    "Ruiz",
]


def seed(url: str, count: int) -> None:
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    upgrade(engine)
    sessions = make_session_factory(engine)
    with transaction(sessions) as session:
        directory = parse_directory(small_network(), source="bench")
        import_directory(session, directory=directory, source="bench")
    rng = random.Random(7)
    start = date(1940, 1, 1)
    batch: list[dict[str, object]] = []
    with engine.begin() as conn:
        for n in range(count):
            first = rng.choice(FIRST) + ("" if n % 3 else f"{n % 97}")
            last = rng.choice(LAST) + ("" if n % 2 else f"{n % 389}")
            phone = f"573-{rng.randint(200, 999)}-{rng.randint(0, 9999):04d}"
            external = f"MO-{n:07d}"
            batch.append(
                {
                    "first_name": first,
                    "last_name": last,
                    "birth_date": start + timedelta(days=rng.randint(0, 30000)),
                    "phone": phone,
                    "address": f"{rng.randint(1, 9999)} Main Street",
                    "external_id": external,
                    "guardians": [],
                    "first_key": fold(first),
                    "last_key": fold(last),
                    "phone_key": phone_key(phone),
                    "external_key": external_key(external),
                }
            )
            if len(batch) == 5000:
                conn.execute(insert(Client), batch)
                batch = []
        if batch:
            conn.execute(insert(Client), batch)
    engine.dispose()


def measure(url: str, runs: int) -> None:
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    with transaction(sessions) as session:
        sample = session.scalars(select(Client).where(Client.id == 4242)).one()
        known = (sample.first_name, sample.last_name, sample.birth_date, sample.phone)
    cases: dict[str, Callable[[Session], object]] = {
        "floor: client by primary key": lambda s: s.get(Client, 4242),
        "search: one surname word": lambda s: _search(s, "garcia"),
        "search: name + birth date": lambda s: _search(
            s, f"{known[0]} {known[1]} {known[2].isoformat()}"
        ),
        "search: phone": lambda s: _search(s, str(known[3])),
        "search: external id": lambda s: _search(s, "mo0004242"),
        "duplicate check on create": lambda s: find_matches(
            s, Person(known[0], known[1], known[2], phone=known[3], address="1 Main St.")
        ),
    }
    load = os.getloadavg()
    print(f"{engine.dialect.name}, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    for name, case in cases.items():
        timings = []
        for _ in range(runs):
            with transaction(sessions) as session:
                began = time.perf_counter()
                case(session)
                timings.append((time.perf_counter() - began) * 1000)
                session.rollback()  # the search's audit row is not kept
        timings.sort()
        p95 = timings[max(0, int(len(timings) * 0.95) - 1)]
        print(
            f"{name:32s} p50 {statistics.median(timings):7.2f} ms  p95 {p95:7.2f} ms  "
            f"max {timings[-1]:7.2f} ms"
        )
    engine.dispose()


def _search(session: Session, text_: str) -> object:
    actor = actor_by_email(session, COORD)
    return search_clients(session, actor=actor, text=text_, channel=Channel.CLI)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="sqlite:///bench_clients.db")
    parser.add_argument("--clients", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--measure-only", action="store_true")
    args = parser.parse_args()
    if not args.measure_only:
        seed(args.url, args.clients)
    measure(args.url, args.runs)


if __name__ == "__main__":
    main()
