"""The scheduled jobs by name: what each runs and when. Each job only writes the outbox."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time

from sqlalchemy.orm import Session

from bot.logs import bound
from bot.metrics import JOB_NOTIFICATIONS, JOB_RUNS
from bot.runtime import Runtime
from bot.services import agreements, digests, escalations, expiries, idle, reminders
from storage.db import transaction

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    name: str
    run: Callable[[Session], int]
    at: time  # local time of day (the network's TIMEZONE)


def jobs(digest_time: str) -> list[Job]:
    hour, minute = (int(part) for part in digest_time.split(":"))
    return [
        Job("expiries_agency_mou", expiries.agency_mous, time(5, 0)),
        Job("expiries_user_mou", expiries.user_mous, time(5, 5)),
        Job("expiries_consent", expiries.consents, time(5, 10)),
        Job("consent_lapsed", agreements.lapsed_consents, time(0, 5)),
        Job("agency_mou_lapsed", agreements.lapsed_agency_mous, time(0, 6)),
        Job("access_idle_staff", idle.idle_staff, time(5, 15)),
        Job("thirty_day_reminders", reminders.thirty_day_reminders, time(6, 0)),
        Job("overdue_escalations", escalations.overdue_escalations, time(7, 0)),
        Job("coordinator_digests", digests.daily_digests, time(hour, minute)),
    ]


def run_job(name: str, runtime: Runtime) -> int:
    """Run one job in its own transaction; returns how many outbox rows it wrote."""
    job = next(j for j in jobs(runtime.settings.digest_time) if j.name == name)
    with bound(job=name, run=uuid.uuid4().hex[:12]):
        try:
            with transaction(runtime.sessions) as session:
                written = job.run(session)
        except Exception:
            JOB_RUNS.labels(name, "error").inc()
            raise
        JOB_RUNS.labels(name, "ok").inc()
        JOB_NOTIFICATIONS.labels(name).inc(written)
        log.info("job %s wrote %d notification(s)", name, written)
    return written


def catch_up(runtime: Runtime) -> dict[str, int]:
    """At start, run once every job whose time today has already passed: after downtime the
    missed runs are made up once (each job covers everything since its last run), never once
    per missed day, and a job whose time has not come yet waits for it."""
    local_now: datetime = runtime.clock().astimezone(runtime.settings.zone)
    done: dict[str, int] = {}
    for job in jobs(runtime.settings.digest_time):
        if local_now.time() >= job.at:
            done[job.name] = run_job(job.name, runtime)
    return done
