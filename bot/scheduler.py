"""The clock: APScheduler with cron triggers; jobs only decide what is due and write the outbox."""

from __future__ import annotations

from apscheduler.schedulers.background import BackgroundScheduler

from bot.runtime import Runtime

# A run that starts late (the process was busy or asleep) is still run, once: APScheduler's
# default grace of one second would silently skip it.
MISFIRE_GRACE_SECONDS = 6 * 3600


def make_scheduler(runtime: Runtime) -> BackgroundScheduler:
    return BackgroundScheduler(
        timezone=runtime.settings.zone,
        job_defaults={
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": MISFIRE_GRACE_SECONDS,
        },
    )
