"""Drill 7: the database restarts under Slack and API load. Requests during the outage get a
clear 503 (API) or an ephemeral "cannot reach its database" (Slack), nothing is half-written,
and service resumes by itself.

A private PostgreSQL (initdb and pg_ctl in a temporary directory, never the shared server) is
stopped with `pg_ctl stop -m fast` while the web app (FastAPI, the Bolt app, the API) serves
a steady mix: clients created through the API, referral lists through the API and `/referral
list open` from Slack; OUTAGE seconds later it is started again.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import func, select

from bench.drills.report import Outcome
from bench.drills.slack_world import world
from storage.db import make_engine, transaction
from storage.migrate import upgrade
from storage.models import AuditEvent, Client
from tests.fakes import slack_requests
from tests.servers import free_port

OUTAGE = 5.0
BEFORE, AFTER = 3.0, 8.0
DB_AWAY = "closeloop cannot reach its database right now"


def as_owner(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run its tools as the `postgres` user."""
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


@contextmanager
def private_postgres() -> Iterator[tuple[str, Path]]:
    """A PostgreSQL of our own on a free port: (url, data directory)."""
    if shutil.which("pg_ctl") is None or shutil.which("initdb") is None:
        raise SystemExit("drill 7 needs PostgreSQL's initdb and pg_ctl on the PATH")
    with tempfile.TemporaryDirectory() as tmp:
        if os.geteuid() == 0:
            shutil.chown(tmp, user="postgres")
        data, port = Path(tmp) / "data", free_port()
        subprocess.run(
            as_owner(["initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"]),
            check=True,
            capture_output=True,
        )
        # In its own configuration, so that a plain `pg_ctl start` comes back on the same port.
        with (data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"port = {port}\nunix_socket_directories = '{tmp}'\n"
                "listen_addresses = '127.0.0.1'\nfsync = off\n"
            )
        pg_ctl(data, "-l", f"{tmp}/pg.log", "start")
        try:
            yield f"postgresql://postgres@127.0.0.1:{port}/postgres", data
        finally:
            subprocess.run(
                as_owner(["pg_ctl", "-D", str(data), "-m", "immediate", "stop"]),
                check=False,
                capture_output=True,
            )


def pg_ctl(data: Path, *args: str) -> None:
    command = as_owner(["pg_ctl", "-D", str(data), "-w", *args])
    subprocess.run(command, check=True, capture_output=True)


@dataclass
class Answer:
    at: float
    what: str
    status: int
    text: str


async def load(found: object, token: str, data: Path, answers: list[Answer]) -> float:
    from tests.adapter.slack.conftest import SlackWorld

    assert isinstance(found, SlackWorld)
    transport = httpx.ASGITransport(app=found.api)
    headers = {"Authorization": f"Bearer {token}"}
    started = time.monotonic()
    stopped_at = restarted_at = 0.0
    n = 0
    async with httpx.AsyncClient(transport=transport, base_url="http://closeloop.test") as http:
        while time.monotonic() - started < BEFORE + OUTAGE + AFTER:
            at = time.monotonic() - started
            if not stopped_at and at >= BEFORE:
                await asyncio.to_thread(pg_ctl, data, "-m", "fast", "stop")
                stopped_at = time.monotonic() - started
            if stopped_at and not restarted_at and at >= stopped_at + OUTAGE:
                await asyncio.to_thread(pg_ctl, data, "-l", f"{data.parent}/pg.log", "start")
                restarted_at = time.monotonic() - started
            n += 1
            made = await http.post(
                "/api/v1/clients",
                headers=headers,
                json={
                    "first_name": f"Drill{n}",
                    "last_name": "Client",
                    "birth_date": "1990-01-01",
                    "phone": f"573-555-{n:04d}",
                },
            )
            answers.append(Answer(at, "api_write", made.status_code, made.text))
            listed = await http.get("/api/v1/referrals", headers=headers)
            answers.append(Answer(at, "api_read", listed.status_code, listed.text))
            hook = f"commands/{n}"
            acked = await found.post(
                slack_requests.slash_command(
                    text="list open", user_id="U0CASEY", response_url=found.fake.hook_url(hook)
                )
            )
            said = ""
            for _ in range(100):
                said = next(
                    (
                        str(c.params.get("text"))
                        for c in found.fake.responses()
                        if c.params.get("hook") == hook
                    ),
                    "",
                )
                if said:
                    break
                await asyncio.sleep(0.02)
            answers.append(Answer(at, "slack", acked.status_code, said))
            await asyncio.sleep(0.05)
    return restarted_at


def main() -> int:
    outcome = Outcome(7, "database_restart")
    from handlers.api.tokens import issue_token
    from tests.network import COORD

    with private_postgres() as (url, data):
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        answers: list[Answer] = []
        with world(url) as found:
            with transaction(found.sessions) as session:
                token = issue_token(session, email=COORD)
            loop = asyncio.new_event_loop()
            try:
                restarted_at = loop.run_until_complete(load(found, token, data, answers))
            finally:
                loop.close()
            with transaction(found.sessions) as session:
                clients = session.scalar(select(func.count()).select_from(Client)) or 0
                audited = (
                    session.scalar(
                        select(func.count())
                        .select_from(AuditEvent)
                        .where(AuditEvent.action == "client_created")
                    )
                    or 0
                )
    created = sum(a.what == "api_write" and a.status == 201 for a in answers)
    away = [a for a in answers if a.status == 503 or DB_AWAY in a.text]
    bad = [a for a in answers if a.status >= 500 and a.status != 503]
    unclear = [a for a in answers if a.what == "slack" and "Something went wrong" in a.text]
    ok_after = [
        a for a in answers if a.at > restarted_at and a.status < 300 and DB_AWAY not in a.text
    ]
    first_ok = min((a.at for a in ok_after), default=None)
    outcome.sent = len(answers)
    outcome.received = created
    outcome.lost = created - clients
    outcome.doubled = clients - audited  # a client without its audit event: half-written
    outcome.recover_s = None if first_ok is None else first_ok - restarted_at
    outcome.extra.update(told_away=len(away), errors_500=len(bad), clients=clients)
    outcome.check(bool(away), "no request met the outage: the drill proves nothing")
    outcome.check(not bad, "requests answered with a bare 500")
    outcome.check(not unclear, "Slack answered with the generic apology")
    outcome.check(outcome.lost == 0 and outcome.doubled == 0, "something was half-written")
    outcome.check(first_ok is not None, "service did not resume")
    return outcome.finish()


if __name__ == "__main__":
    raise SystemExit(main())
