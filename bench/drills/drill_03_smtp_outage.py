"""Drill 3: the relay is down for two minutes while notifications wait; all go out within 15 s
of its return, none lost, none doubled, none dead.

The relay goes down in the middle of a fanout (some messages already delivered), stays down
for OUTAGE seconds while the two workers keep trying, and comes back on the same port.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench.drills.common import (
    drill_database,
    load_statewide,
    pending,
    publish_statewide,
    settings_for,
    workers,
)
from bench.drills.report import Outcome
from bench.sink import SmtpSink, doubles
from bot.runtime import Runtime

OUTAGE = float(os.environ.get("DRILL_OUTAGE_SECONDS", "120"))
PROGRAMS = 197  # 200 people told
RECOVER_WITHIN = 15.0


def main() -> int:
    outcome = Outcome(3, "smtp_outage")
    with SmtpSink() as sink, drill_database("outage") as url, tempfile.TemporaryDirectory() as tmp:
        settings = settings_for(url, smtp_url=sink.url)
        runtime = Runtime(settings)
        load_statewide(runtime, PROGRAMS)
        sink.slow(0.02)  # so that the outage starts mid-fanout
        rows = publish_statewide(runtime)
        with workers(settings, 2, Path(tmp) / "workers.log"):
            sink.wait_for(rows // 4, timeout=120)
            sink.stop()
            before = sink.count()
            time.sleep(OUTAGE)
            sink.slow(0)
            sink.start()
            back = time.monotonic()
            took = sink.wait_for(rows, timeout=120)
            recovered = time.monotonic() - back
            time.sleep(2.0)
            states = pending(runtime)
        ids = sink.ids()
        runtime.close()
    outcome.sent, outcome.received = rows, len(ids)
    outcome.lost, outcome.doubled = rows - len(Counter(ids)), doubles(ids)
    outcome.recover_s = recovered
    outcome.extra.update(before_outage=before, outage_s=f"{OUTAGE:.0f}", dead=states.get("dead", 0))
    outcome.check(took is not None and outcome.lost == 0, "messages lost")
    outcome.check(outcome.doubled == 0, "messages doubled")
    outcome.check(states.get("dead", 0) == 0, "rows went dead")
    outcome.check(recovered <= RECOVER_WITHIN, f"not all delivered within {RECOVER_WITHIN:.0f} s")
    return outcome.finish()


if __name__ == "__main__":
    raise SystemExit(main())
