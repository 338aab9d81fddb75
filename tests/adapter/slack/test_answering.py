"""Commands carried out in an answering process (SLACK_ANSWER_PROCESSES) are answered the same."""

from __future__ import annotations

import asyncio
import json
import os
import signal

import pytest
from sqlalchemy import func, select

from handlers.slack.queued import SWEEP_SECONDS
from storage.db import transaction
from storage.models import QueuedCommand
from tests.adapter.slack.conftest import STRANGER, SlackWorld
from tests.adapter.slack.test_requests import answered, command
from tests.service.helpers import published

pytestmark = pytest.mark.anyio

# Starting a Python process and importing closeloop is slow on a busy machine; this is a bound
# on waiting for the answer, not a speed requirement.
STARTING = 60.0


async def test_list_is_acknowledged_at_once_and_answered_from_the_answering_process(
    answering_world: SlackWorld,
) -> None:
    world = answering_world
    numbers = [published(world.sessions) for _ in range(3)]

    answer = await world.post(command(world, "U0GRACE", "list open"))

    assert answer.status_code == 200
    assert answer.content == b""  # acknowledged; the grid comes by response_url
    await world.until(lambda: world.fake.responses(), timeout=STARTING)
    [said] = await answered(world)
    assert said["response_type"] == "ephemeral"
    assert "Open referrals 1–3 of 3" in said["text"]
    text = json.dumps(said["blocks"], ensure_ascii=False)
    assert all(number in text for number in numbers)
    assert "Example" not in text  # the list carries no client names


async def test_a_refusal_from_the_answering_process_is_told_and_nothing_changes(
    answering_world: SlackWorld,
) -> None:
    world = answering_world
    published(world.sessions)
    before = world.counts()

    await world.post(command(world, STRANGER, "list"))

    await world.until(lambda: world.fake.responses(), timeout=STARTING)
    [said] = await answered(world)
    assert said["text"] == (
        "Your Slack account is not linked to closeloop: no staff member has the email address "
        "on your Slack profile (stranger@elsewhere.example.org). Ask your agency's security "
        "officer or a network admin to add you to closeloop."
    )
    assert said["replace_original"] is False
    # The queued command is deleted just after its answer is posted; nothing else changed.
    await world.until(lambda: world.counts() == before)


async def test_when_an_answering_process_dies_a_fresh_one_answers_the_next_commands(
    answering_world: SlackWorld,
) -> None:
    world = answering_world
    published(world.sessions)
    answering = world.api.state.slack_answering
    await answering.warm()
    for worker in answering._workers:
        worker.process.kill()  # as the out-of-memory killer would
        worker.process.join()

    await world.post(command(world, "U0GRACE", "list open"))
    await world.post(command(world, "U0CASEY", "list open"))

    await world.until(lambda: len(world.fake.responses()) >= 2, timeout=STARTING)
    answers = await answered(world, 2)
    assert all("Open referrals 1–1 of 1" in said["text"] for said in answers)


async def test_commands_waiting_in_a_process_that_dies_are_answered_once_by_another(
    answering_world: SlackWorld,
) -> None:
    world = answering_world
    published(world.sessions)
    answering = world.api.state.slack_answering
    await answering.warm()
    first, second = answering._workers
    for worker in (first, second):  # both busy: the commands wait in their pipes
        os.kill(worker.process.pid, signal.SIGSTOP)
    users = ["U0GRACE", "U0CASEY", "U0SAM", "U0OLIVIA"]
    for user in users:
        answer = await world.post(command(world, user, "list open"))
        assert answer.status_code == 200 and answer.content == b""
    first.process.kill()  # with two acknowledged commands in its pipe
    first.process.join()
    os.kill(second.process.pid, signal.SIGCONT)

    await world.until(lambda: len(world.fake.responses()) >= len(users), timeout=STARTING)
    await world.settle()
    await asyncio.sleep(2 * SWEEP_SECONDS)  # a second answer to any of them would come now
    hooks = sorted(call.params["hook"] for call in world.fake.responses())
    assert hooks == sorted(f"commands/{user}" for user in users)
    with transaction(world.sessions) as session:
        assert session.scalar(select(func.count()).select_from(QueuedCommand)) == 0
