"""The clock: APScheduler with cron triggers; jobs only decide what is due and write the outbox."""

from __future__ import annotations

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from bot.jobs import jobs
from bot.runtime import Runtime

# A run that starts late (the process was busy or asleep) is still run, once: APScheduler's
# default grace of one second would silently skip it.
MISFIRE_GRACE_SECONDS = 6 * 3600


def make_scheduler(runtime: Runtime) -> BackgroundScheduler:
    zone = runtime.settings.zone
    scheduler = BackgroundScheduler(
        timezone=zone,
        job_defaults={
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": MISFIRE_GRACE_SECONDS,
        },
    )
    for job in jobs(runtime.settings.digest_time):
        # Referenced by name ("module:function"), with the job's name as its argument: nothing
        # about a job depends on pickling a live object.
        scheduler.add_job(
            "bot.jobs:run_job",
            CronTrigger(hour=job.at.hour, minute=job.at.minute, timezone=zone),
            id=job.name,
            name=job.name,
            kwargs={"name": job.name, "runtime": runtime},
            replace_existing=True,
        )
    return scheduler
