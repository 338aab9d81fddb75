"""Drill 5: Slack answers 429 with Retry-After, then 500s, while notifications go out as DMs:
each is posted once and none goes dead."""

from __future__ import annotations

import threading
import time
from collections import Counter

from sqlalchemy import select

from bench.drills.common import drill_database, pending
from bench.drills.report import Outcome
from bench.drills.slack_world import world
from storage.db import transaction
from storage.models import OutboxMessage
from tests.service.helpers import published

REFERRALS = 10
THROTTLED = 4  # 429s, each with Retry-After: 1
FAILING = 12  # then 500s, longer than the dispatcher's 8 attempts would allow per row


def main() -> int:
    outcome = Outcome(5, "slack_throttled")
    with drill_database("slack") as url, world(url) as found:
        for _ in range(REFERRALS):
            published(found.sessions)
        with transaction(found.sessions) as session:
            rows = session.execute(
                select(OutboxMessage.id, OutboxMessage.address).where(
                    OutboxMessage.channel == "slack"
                )
            ).all()
        found.fake.fail_next("chat.postMessage", status=429, retry_after=1, times=THROTTLED)
        found.fake.fail_next("chat.postMessage", status=500, retry_after=None, times=FAILING)
        dispatcher = found.runtime.dispatcher()
        stop = threading.Event()
        thread = threading.Thread(target=dispatcher.run_forever, args=(stop,), daemon=True)
        started = time.monotonic()
        thread.start()
        deadline = started + 120
        posted: list[object] = []
        while time.monotonic() < deadline:
            posted = [c for c in found.fake.calls("chat.postMessage") if c.status == 200]
            if len(posted) >= len(rows):
                break
            time.sleep(0.1)
        took = time.monotonic() - started
        time.sleep(3)  # a second post of any of them would come now
        stop.set()
        thread.join(timeout=10)
        calls = found.fake.calls("chat.postMessage")
        ok = [c for c in calls if c.status == 200 and c.response and c.response.get("ok")]
        states = pending(found.runtime)
    # Each row's text names its referral and person: count posts per (channel, text).
    copies = Counter((c.params.get("channel"), c.params.get("text")) for c in ok)
    outcome.sent, outcome.received = len(rows), len(ok)
    outcome.lost = len(rows) - len(copies)
    outcome.doubled = sum(n - 1 for n in copies.values())
    outcome.recover_s = took
    outcome.extra.update(
        throttled=sum(c.status == 429 for c in calls),
        failed=sum(c.status == 500 for c in calls),
        dead=states.get("dead", 0),
    )
    outcome.check(outcome.lost == 0 and states.get("pending", 0) == 0, "messages not posted")
    outcome.check(outcome.doubled == 0, "messages posted twice")
    outcome.check(states.get("dead", 0) == 0, "rows went dead")
    return outcome.finish()


if __name__ == "__main__":
    raise SystemExit(main())
