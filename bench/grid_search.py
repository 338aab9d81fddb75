"""Benchmark: the referral grid's search on PostgreSQL over 1,000,000 referral-program rows.
Target (issue 6): p95 under 50 ms for every common filter.

    .venv/bin/python bench/grid_search.py --seed-only     [--url URL] [--rows 1000000]
    .venv/bin/python bench/grid_search.py --measure-only  [--url URL] [--runs 200]

The default URL is a throwaway database `bench_grid` on 127.0.0.1:5432 (user postgres), created
when missing. Seeding drops and recreates its `public` schema, migrates it with the real
migrations, imports the demo directory fifty times over (200 agencies, 350 programs), then writes
clients, referrals and recipients with set-based `INSERT ... SELECT` (no ORM loops). Measuring
runs the real `search` with real actors in a fresh process, prints p50/p95/max per case, and
EXPLAIN ANALYZE for every case over target.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, event, select, text
from sqlalchemy.engine import make_url

from bot.actors import actor_for
from bot.demo.seed import demo_directory
from bot.domain.permissions import Actor
from bot.domain.vocab import ReferralState
from bot.services.directory import import_directory, parse_directory
from bot.services.grid import GridQuery, search
from bot.settings import Settings
from storage.db import make_engine, make_session_factory, transaction
from storage.migrate import upgrade
from storage.models import Staff

NOW = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/bench_grid"
COPIES = 50
TARGET_MS = 50.0

# 4,000 surnames made of three parts, drawn with a skew (random()^2): the commonest is borne by
# 1.6 % of clients (like "Smith"), most are rare; a three-letter prefix matches about 5 %.
PARTS_1 = "Ander Bal Car Dal Ell Fer Gar Har Jen Kel Lan Mar Nel Or Par Ros Stan Tay Wal Yor"
PARTS_2 = "_ ing en er is an ow el ett ul"
PARTS_3 = "son ton ley man ford wood sen ez berg ski well field by ham stead o a er ridge wick"
FIRST_NAMES = (
    "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara "
    "Richard Susan Joseph Jessica Thomas Sarah Charles Karen Christopher Lisa Daniel Nancy "
    "Matthew Betty Anthony Sandra Mark Margaret Donald Ashley Steven Kimberly Paul Emily Andrew "
    "Donna Joshua Michelle Kenneth Carol Kevin Amanda Brian Melissa George Deborah Timothy "
    "Stephanie Ronald Rebecca Jason Sharon Edward Laura Jeffrey Cynthia Ryan Amy Jacob Angela"
)
NEEDS = "RES IHS DAY EMP RSP BEH HSG SHL CM TRN"


def scaled_directory(copies: int) -> dict[str, Any]:
    """The demo directory with each agency (its programs and staff) repeated `copies` times;
    copy 0 keeps the demo's own keys and addresses, the regional coordinators stay as they are."""
    data = demo_directory(NOW.date() - timedelta(days=30))
    agencies, staff = [], []
    agency_keys = {a["key"] for a in data["agencies"]}
    program_keys = {p["key"] for a in data["agencies"] for p in a["programs"]}
    for person in data["staff"]:
        if not any(r.get("program") or r.get("agency") for r in person["roles"]):
            staff.append(person)
    for n in range(copies):

        def key(k: str, n: int = n) -> str:
            return k if n == 0 else f"{k}-{n}"

        for agency in data["agencies"]:
            copy = {**agency, "key": key(agency["key"]), "name": f"{agency['name']} {n or ''}"}
            copy["name"] = copy["name"].strip()
            copy["programs"] = [
                {**p, "key": key(p["key"]), "name": f"{p['name']} {n or ''}".strip()}
                for p in agency["programs"]
            ]
            agencies.append(copy)
        for person in data["staff"]:
            roles = person["roles"]
            if not any(r.get("program") or r.get("agency") for r in roles):
                continue
            local, domain = person["email"].split("@")
            staff.append(
                {
                    **person,
                    "email": person["email"] if n == 0 else f"{local}.c{n}@{domain}",
                    "roles": [
                        {
                            **r,
                            **({"program": key(r["program"])} if r.get("program") else {}),
                            **({"agency": key(r["agency"])} if r.get("agency") else {}),
                        }
                        for r in roles
                    ],
                }
            )
    assert all(a["key"] in agency_keys for a in agencies[: len(agency_keys)])
    assert len(program_keys) * copies == sum(len(a["programs"]) for a in agencies)
    return {**data, "agencies": agencies, "staff": staff}


def _words(spaced: str) -> str:
    """A PostgreSQL array literal of the words ('_' stands for the empty string)."""
    return "ARRAY[" + ", ".join(f"'{w.strip('_')}'" for w in spaced.split()) + "]"


SEED_SQL = [
    "SELECT setseed(0.42)",
    # Clients: nine in ten have one referral, the rest two or three.
    f"""
    INSERT INTO clients (id, first_name, last_name, birth_date, external_id, guardians, created_at)
    SELECT i,
           ({_words(FIRST_NAMES)})[1 + floor(random() * 60)::int],
           ({_words(PARTS_1)})[1 + name % 20] || ({_words(PARTS_2)})[1 + name / 20 % 10]
             || ({_words(PARTS_3)})[1 + name / 200],
           date '1950-01-01' + floor(random() * 25000)::int,
           CASE WHEN random() < 0.8 THEN 'DD-' || lpad(i::text, 8, '0') END,
           '[]', :now - make_interval(days => 1900)
    FROM (SELECT i, floor(power(random(), 2) * 4000)::int AS name
          FROM generate_series(1, :clients) AS i) AS x
    """,
    # Referrals published over five years: most of the old ones are closed; about one in ten
    # referrals is open or pending placement today, one in ten of those statewide.
    """
    CREATE TEMP TABLE seed_referrals AS
    SELECT i AS id, 1 + floor(random() * :clients)::int AS client_id,
           :now - make_interval(days => floor(random() * 1825)::int,
                                secs => floor(random() * 86400)::int) AS published,
           random() AS fate, random() < 0.1 AS statewide,
           1 + floor(random() * 115)::int AS county_n, random() AS r
    FROM generate_series(1, :referrals) AS i
    """,
    """
    CREATE TEMP TABLE seed_counties AS
    SELECT row_number() OVER (ORDER BY id) AS n, id FROM counties
    """,
    """
    CREATE TEMP TABLE seed_coordinators AS
    SELECT DISTINCT ON (county_id) county_id, staff_id FROM role_grants
    WHERE role = 'coordinator' AND county_id IS NOT NULL ORDER BY county_id, staff_id
    """,
    f"""
    INSERT INTO referrals (id, number, client_id, facility_code, primary_coordinator_id, urgency,
                           statewide, state, needs, publish_count, first_published_at,
                           last_published_at, pending_at, closed_at, deleted_at, created_at)
    SELECT s.id,
           'R-' || extract(year FROM s.published)::int || '-' || lpad(s.id::text, 6, '0'),
           s.client_id, 'CMO',
           coalesce(co.staff_id, (SELECT min(staff_id) FROM role_grants
                                  WHERE role = 'coordinator')),
           (ARRAY['routine', 'routine', 'routine', 'urgent', 'emergent'])
             [1 + floor(s.r * 5)::int],
           s.statewide, st.state,
           format('["%s", "%s"]',
                  ({_words(NEEDS)})[1 + (s.id % 10)],
                  ({_words(NEEDS)})[1 + ((s.id / 10 + 3) % 10)])::json,
           1, s.published, s.published,
           CASE WHEN st.state = 'pending_placement' THEN s.published + interval '20 days' END,
           CASE WHEN st.state = 'closed' THEN s.published + interval '45 days' END,
           CASE WHEN st.state = 'deleted' THEN s.published + interval '2 days' END,
           s.published - interval '1 day'
    FROM seed_referrals s
    JOIN seed_counties c ON c.n = s.county_n
    LEFT JOIN seed_coordinators co ON co.county_id = c.id
    CROSS JOIN LATERAL (
        SELECT CASE
            WHEN s.published > :now - interval '90 days' THEN
                CASE WHEN s.fate < 0.70 THEN 'open' WHEN s.fate < 0.80 THEN 'pending_placement'
                     WHEN s.fate < 0.95 THEN 'closed' ELSE 'deleted' END
            WHEN s.published > :now - interval '365 days' THEN
                CASE WHEN s.fate < 0.15 THEN 'open' WHEN s.fate < 0.20 THEN 'pending_placement'
                     WHEN s.fate < 0.95 THEN 'closed' ELSE 'deleted' END
            ELSE
                CASE WHEN s.fate < 0.02 THEN 'open' WHEN s.fate < 0.03 THEN 'pending_placement'
                     WHEN s.fate < 0.97 THEN 'closed' ELSE 'deleted' END
        END AS state
    ) st
    """,
    # One county each (one in five has a neighbouring second county), none when statewide.
    """
    INSERT INTO referral_counties (referral_id, county_id)
    SELECT s.id, c.id FROM seed_referrals s JOIN seed_counties c ON c.n = s.county_n
    WHERE NOT s.statewide
    UNION
    SELECT s.id, c.id FROM seed_referrals s JOIN seed_counties c ON c.n = s.county_n % 115 + 1
    WHERE NOT s.statewide AND s.r < 0.2
    """,
    """
    CREATE TEMP TABLE seed_programs AS
    SELECT row_number() OVER (ORDER BY p.id) - 1 AS n, p.id, p.name,
           (SELECT min(g.staff_id) FROM role_grants g
            WHERE g.program_id = p.id AND g.role = 'provider') AS provider
    FROM programs p
    """,
    # 1, 2, 3 or 4 distinct programs per referral (2.5 on average); half the pairs assigned,
    # most closed ones answered, four in ten of the open ones.
    """
    INSERT INTO recipients (referral_id, program_id, active, joined_at, joined_how, assignee_id,
                            assigned_at, response, response_reason, responded_at,
                            response_version, grid_state, grid_published_at, grid_number,
                            grid_urgency, grid_program, grid_last_name, grid_statewide,
                            grid_coordinator_id)
    SELECT x.id, p.id, x.fate > 0.03, x.joined, 'published',
           CASE WHEN x.assigned THEN p.provider END,
           CASE WHEN x.assigned THEN x.joined + interval '2 days' END,
           CASE WHEN x.answered THEN (ARRAY['accept', 'tentative', 'decline'])
                                       [1 + floor(x.fate * 3)::int] END,
           CASE WHEN x.answered AND x.fate > 0.67 THEN 'no_vacancy' END,
           CASE WHEN x.answered THEN x.joined + interval '3 days' END,
           CASE WHEN x.answered THEN 1 ELSE 0 END,
           x.state, x.first_published_at, x.number, x.urgency, p.name, x.last_name,
           x.statewide, x.primary_coordinator_id
    FROM (
        SELECT r.id, k, random() AS fate, random() < 0.5 AS assigned,
               random() < CASE WHEN r.state IN ('open', 'pending_placement') THEN 0.4
                               ELSE 0.8 END AS answered,
               r.first_published_at + make_interval(hours => k) AS joined,
               (hashint4(r.id) & 1023) % :programs + k * (:programs / 4) AS slot,
               r.state, r.first_published_at, r.number, r.urgency, c.last_name, r.statewide,
               r.primary_coordinator_id
        FROM referrals r JOIN clients c ON c.id = r.client_id
        CROSS JOIN LATERAL generate_series(0, r.id % 4) AS k
    ) x
    JOIN seed_programs p ON p.n = x.slot % :programs
    """,
    # The grid's copy of each referral's needs (bot.services.grid_rows writes it in the app).
    """
    INSERT INTO referral_needs (referral_id, code)
    SELECT DISTINCT r.id, n.code
    FROM referrals r CROSS JOIN LATERAL json_array_elements_text(r.needs) AS n(code)
    """,
    "SELECT setval('clients_id_seq', (SELECT max(id) FROM clients))",
    "SELECT setval('referrals_id_seq', (SELECT max(id) FROM referrals))",
]


def database_url(url: str | None) -> str:
    """The URL for SQLAlchemy; the default throwaway database is created when missing."""
    if url is None:
        url = DEFAULT_URL
        server = make_engine(
            Settings(database_url=url).database_url.rsplit("/", 1)[0] + "/postgres"
        )
        with server.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            if conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = 'bench_grid'")) is None:
                conn.execute(text("CREATE DATABASE bench_grid"))
        server.dispose()
    return Settings(database_url=url).database_url


def seed(url: str, rows: int) -> None:
    engine = make_engine(url)
    assert engine.dialect.name == "postgresql", "the grid benchmark seeds PostgreSQL"
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    upgrade(engine)
    sessions = make_session_factory(engine, settings=Settings(database_url=url), clock=lambda: NOW)
    with transaction(sessions) as s:
        import_directory(
            s, directory=parse_directory(scaled_directory(COPIES), source="demo"), source="demo"
        )
    print(f"migrated and imported the directory in {time.perf_counter() - started:.1f} s")
    referrals = rows * 2 // 5  # 1 to 4 programs each, 2.5 on average
    params = {
        "now": NOW,
        "clients": referrals * 9 // 10,
        "referrals": referrals,
        "programs": 7 * COPIES,
    }
    with engine.begin() as conn:
        for statement in SEED_SQL:
            step = time.perf_counter()
            names = [k for k in params if f":{k}" in statement]
            conn.execute(text(statement), {k: params[k] for k in names})
            first = " ".join(statement.split())[:60]
            print(f"  {time.perf_counter() - step:6.1f} s  {first}")
    # The data fits in memory, as a production grid's working set does (on SSDs): the default
    # random_page_cost (4, for spinning disks) makes the planner shun index lookups.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        database = make_url(url).database
        conn.execute(text(f'ALTER DATABASE "{database}" SET random_page_cost = 1.1'))
    # A live database has statistics (autovacuum analyses it); a freshly loaded one does not.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        step = time.perf_counter()
        conn.execute(text("VACUUM ANALYZE"))
        print(f"  {time.perf_counter() - step:6.1f} s  VACUUM ANALYZE")
    print(f"seeded in {time.perf_counter() - started:.1f} s")
    engine.dispose()


@dataclass(frozen=True)
class Case:
    who: str
    label: str
    query: GridQuery
    page: int = 1  # pages 2 and more are reached through the cursor of the page before


WHO = {
    "admin": "admin@network.example.org",
    "coordinator": "casey.morgan@dmh-regional.example.org",  # 22 of 115 counties
    "gatekeeper": "paula@prairie.example.org",  # gatekeeper of one program
    "provider": "dana@heartland.example.org",  # sees the pairs assigned to her
}


def cases(common_last: str, first: str, number: str, external_id: str) -> list[Case]:
    out: list[Case] = []
    for who in ("admin", "coordinator"):
        out += [
            Case(who, "default (open, oldest first)", GridQuery()),
            Case(who, "scope all", GridQuery(scope="all")),
            Case(
                who, "status pending_placement", GridQuery(status=ReferralState.PENDING_PLACEMENT)
            ),
            Case(who, "status closed", GridQuery(scope="all", status=ReferralState.CLOSED)),
            Case(who, "county Boone", GridQuery(county="Boone")),
            Case(who, "need BEH", GridQuery(need="BEH")),
            Case(who, "program heartland-day-7", GridQuery(program="heartland-day-7")),
            Case(who, f"last name {common_last}", GridQuery(scope="all", last_name=common_last)),
            Case(
                who,
                f"last name {common_last[:3]}",
                GridQuery(scope="all", last_name=common_last[:3]),
            ),
            Case(
                who,
                "last + first name",
                GridQuery(scope="all", last_name=common_last, first_name=first),
            ),
            Case(who, "referral number", GridQuery(scope="all", number=number)),
            Case(who, "external id", GridQuery(scope="all", external_id=external_id)),
            Case(who, "sort number desc", GridQuery(sort="number", descending=True)),
            Case(who, "sort last_name", GridQuery(sort="last_name")),
            Case(who, "sort program", GridQuery(sort="program")),
            Case(who, "sort urgency desc", GridQuery(sort="urgency", descending=True)),
            Case(who, "page 2", GridQuery(), page=2),
            Case(who, "page 10", GridQuery(), page=10),
        ]
    for who in ("gatekeeper", "provider"):
        out += [
            Case(who, "default (open, oldest first)", GridQuery()),
            Case(who, "scope all", GridQuery(scope="all")),
            Case(who, f"last name {common_last}", GridQuery(scope="all", last_name=common_last)),
            Case(who, "sort last_name", GridQuery(sort="last_name")),
            Case(who, "page 10", GridQuery(scope="all"), page=10),
        ]
    return out


@contextmanager
def captured(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """The statements the engine runs meanwhile, with their parameters (for EXPLAIN)."""
    seen: list[tuple[str, Any]] = []

    def listen(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        seen.append((statement, params))

    event.listen(engine, "before_cursor_execute", listen)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", listen)


def measure(url: str, runs: int, only: str | None) -> None:
    engine = make_engine(url)
    sessions = make_session_factory(engine, settings=Settings(database_url=url), clock=lambda: NOW)
    with engine.connect() as conn:
        pairs = conn.scalar(text("SELECT count(*) FROM recipients"))
        common_last, first = conn.execute(
            text(
                "SELECT last_name, min(first_name) FROM clients GROUP BY last_name "
                "ORDER BY count(*) DESC LIMIT 1"
            )
        ).one()
        number, external_id = conn.execute(
            text(
                "SELECT r.number, c.external_id FROM referrals r JOIN clients c "
                "ON c.id = r.client_id WHERE c.external_id IS NOT NULL "
                "AND r.state = 'closed' AND r.id > (SELECT max(id) / 3 FROM referrals) "
                "ORDER BY r.id LIMIT 1"
            )
        ).one()
        load = conn.scalar(text("SELECT 1"))  # warm the connection
    del load
    print(f"engine: {engine.dialect.name}; referral-program rows: {pairs}")
    actors: dict[str, Actor] = {}
    with transaction(sessions) as s:
        for who, email in WHO.items():
            actors[who] = actor_for(s, s.scalars(select(Staff).where(Staff.email == email)).one())
    print(f"{'actor':12s} {'case':34s} {'rows':>8s} {'p50':>7s} {'p95':>7s} {'max':>7s}  ms")
    over: list[tuple[Case, GridQuery]] = []
    for case in cases(common_last, first, number, external_id):
        if only and only not in f"{case.who} {case.label}":
            continue
        actor = actors[case.who]
        query = case.query
        with transaction(sessions) as s:
            for _ in range(case.page - 1):
                cursor = search(s, actor=actor, query=query).next_cursor
                assert cursor is not None, f"{case.who} {case.label}: too few pages"
                query = replace(query, cursor=cursor)
        times = []
        for n in range(runs + 5):
            started = time.perf_counter()
            with transaction(sessions) as s:
                page = search(s, actor=actor, query=query)
            if n >= 5:  # the first runs warm the cache and the statement cache
                times.append((time.perf_counter() - started) * 1000)
        times.sort()
        p95 = times[int(len(times) * 0.95) - 1]
        print(
            f"{case.who:12s} {case.label:34s} {page.total:8d} {statistics.median(times):7.1f} "
            f"{p95:7.1f} {times[-1]:7.1f}"
        )
        if p95 > TARGET_MS:
            over.append((case, query))
    for case, query in over:
        print(f"\n--- EXPLAIN ANALYZE: {case.who}, {case.label}")
        with captured(engine) as statements, transaction(sessions) as s:
            search(s, actor=actors[case.who], query=query)
        for statement, params in statements:
            with engine.connect() as conn:
                plan = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, params)
                print("\n".join(row[0] for row in plan))
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default=None)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--only", default=None, help="measure the cases whose name has this")
    parser.add_argument("--seed-only", action="store_true")
    parser.add_argument("--measure-only", action="store_true")
    args = parser.parse_args()
    url = database_url(args.url)
    if make_url(url).get_backend_name() != "postgresql":
        parser.error("the grid benchmark runs on PostgreSQL")
    if not args.measure_only:
        seed(url, args.rows)
    if not args.seed_only:
        measure(url, args.runs, args.only)


if __name__ == "__main__":
    main()
