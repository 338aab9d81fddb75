"""Drill 8: an answering process (SLACK_ANSWER_PROCESSES=2) is killed with acknowledged
commands in its queue: every acknowledged command is answered, and answered once."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

from bench.drills.common import drill_database
from bench.drills.report import Outcome
from bench.drills.slack_world import world
from tests.fakes import slack_requests

COMMANDS = 40
USERS = ["U0GRACE", "U0CASEY", "U0SAM", "U0OLIVIA", "U0RITA"]


async def burst(found: object) -> tuple[int, float, float | None]:
    from tests.adapter.slack.conftest import SlackWorld

    assert isinstance(found, SlackWorld)
    answering = found.api.state.slack_answering
    await answering.warm()
    acknowledged = 0
    killed_at = 0.0
    for i in range(COMMANDS):
        signed = slack_requests.slash_command(
            text="list open",
            user_id=USERS[i % len(USERS)],
            response_url=found.fake.hook_url(f"commands/{i}"),
        )
        answer = await found.post(signed)
        acknowledged += answer.status_code == 200 and answer.content == b""
        if i == COMMANDS // 3:
            victim = answering._workers[0].process
            victim.kill()  # kill -9, with commands in its pipe and one being carried out
            killed_at = time.monotonic()
    deadline = time.monotonic() + 90
    while len(found.fake.responses()) < acknowledged and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    done = time.monotonic() - killed_at if len(found.fake.responses()) >= acknowledged else None
    await asyncio.sleep(5)  # a second answer to any command would arrive now
    return acknowledged, killed_at, done


def main() -> int:
    outcome = Outcome(8, "answering_killed")
    with drill_database("answering") as url, world(url, slack_answer_processes=2) as found:
        loop = asyncio.new_event_loop()
        try:
            acknowledged, _, done = loop.run_until_complete(burst(found))
            hooks = Counter(call.params["hook"] for call in found.fake.responses())
        finally:
            found.api.state.slack_answering.close()
            loop.run_until_complete(asyncio.sleep(0.01))  # let the watchdog see it is cancelled
            loop.close()
    outcome.sent, outcome.received = acknowledged, sum(hooks.values())
    outcome.lost = acknowledged - len(hooks)
    outcome.doubled = sum(n - 1 for n in hooks.values())
    outcome.recover_s = done
    outcome.check(acknowledged == COMMANDS, "not every command was acknowledged")
    outcome.check(outcome.lost == 0, "acknowledged commands never answered")
    outcome.check(outcome.doubled == 0, "commands answered twice")
    return outcome.finish()


if __name__ == "__main__":
    raise SystemExit(main())
