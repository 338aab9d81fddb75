"""Drill 6: two `closeloop clock` processes start at once, then one is killed and started again:
each digest, reminder and escalation is written once.

A network with referrals published 31 days ago (30-day reminders and overdue escalations are
due) is prepared twice: once for a single clock's catch-up in this process (what "once" is),
and once for the drill. The time zone is chosen so that every job's time of day has passed.
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from bench.drills.common import Worker, drill_database, settings_for, wait_until
from bench.drills.report import Outcome
from bot.jobs import catch_up
from bot.runtime import Runtime
from bot.settings import Settings
from storage.db import make_engine, make_session_factory, transaction
from storage.models import OutboxMessage
from tests.conftest import Clock


def noon_zone() -> str:
    """A fixed-offset zone where it is about noon now, after every job's time of day."""
    offset = (12 - datetime.now(UTC).hour + 12) % 24 - 12
    return f"Etc/GMT{-offset:+d}"  # the Etc zones' signs are the POSIX way round


def prepare(settings: Settings) -> None:
    from bot.services.directory import import_directory, parse_directory
    from tests.network import small_network
    from tests.service.helpers import published

    past = Clock(datetime.now(UTC) - timedelta(days=31))
    sessions = make_session_factory(
        make_engine(settings.database_url), settings=settings, clock=past
    )
    with transaction(sessions) as session:
        directory = parse_directory(small_network(), source="drill")
        import_directory(session, directory=directory, source="drill")
    published(sessions, needs=["RES", "DAY"])
    published(sessions, needs=["BEH"], statewide=True, counties=[])
    published(sessions, needs=["HSG"], counties=["Jackson County"])
    # Published rows are not what the clocks write: they are left out of every count.
    with transaction(sessions) as session:
        session.execute(OutboxMessage.__table__.delete())


def written(settings: Settings) -> Counter[str]:
    engine = make_engine(settings.database_url)
    with engine.connect() as connection:
        kinds = connection.execute(select(OutboxMessage.kind)).scalars().all()
    engine.dispose()
    return Counter(kinds)


def settled(settings: Settings, quiet: float = 3.0, timeout: float = 90.0) -> Counter[str]:
    """What the clocks wrote, once nothing new has come for `quiet` seconds."""
    last: Counter[str] = Counter()
    still = time.monotonic()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = written(settings)
        if now != last:
            last, still = now, time.monotonic()
        elif now and time.monotonic() - still >= quiet:
            break
        time.sleep(0.3)
    return last


def main() -> int:
    outcome = Outcome(6, "two_clocks")
    zone = noon_zone()
    with drill_database("once") as once_url, drill_database("clocks") as url:
        once = settings_for(once_url, timezone=zone)
        prepare(once)
        runtime = Runtime(once)
        catch_up(runtime)
        runtime.close()
        expected = written(once)

        settings = settings_for(url, timezone=zone)
        prepare(settings)
        with tempfile.TemporaryDirectory() as tmp:
            log = Path(tmp) / "clocks.log"
            clocks = [Worker(settings, log, role="clock") for _ in range(2)]
            started = time.monotonic()
            first = settled(settings)
            clocks[0].kill()  # kill -9 one clock, and start it again: a restart
            clocks[0] = Worker(settings, log, role="clock")
            wait_until(lambda: False, timeout=8.0)  # its catch-up runs at start
            after = settled(settings)
            took = time.monotonic() - started
            for clock in clocks:
                clock.stop()
    outcome.sent = sum(expected.values())
    outcome.received = sum(after.values())
    outcome.lost = sum((expected - after).values())
    outcome.doubled = sum((after - expected).values())
    outcome.recover_s = took
    outcome.extra["kinds"] = ",".join(f"{k}:{n}" for k, n in sorted(expected.items()))
    outcome.check(sum(expected.values()) > 0, "nothing was due: the drill proves nothing")
    outcome.check(first == expected, "two clocks at once did not write each message once")
    outcome.check(after == expected, "a restarted clock wrote again")
    return outcome.finish()


if __name__ == "__main__":
    raise SystemExit(main())
