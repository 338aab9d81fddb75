"""The primary coordinator steers a referral from the buttons on its Slack notification."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

from bot.domain.vocab import NeedOutcome, ReferralState
from handlers.slack.blocks import ASSIGN, CLOSE, CLOSE_MODAL, PENDING, REPUBLISH, VIEW
from storage.db import transaction
from storage.models import Referral
from tests.adapter.slack.conftest import SlackWorld
from tests.adapter.slack.test_loop import actions_of, click
from tests.fakes import slack_requests
from tests.service.helpers import published

pytestmark = pytest.mark.anyio


def referral(world: SlackWorld, number: str) -> tuple[Any, ...]:
    with transaction(world.sessions) as session:
        found = session.scalar(select(Referral).where(Referral.number == number))
        assert found is not None
        return (found.state, found.publish_count, found.outcome, found.outcome_reason)


def close_state(outcome: str, reason: str | None) -> dict[str, Any]:
    return {
        "need_outcome": {
            "need_outcome": {
                "type": "static_select",
                "selected_option": {
                    "text": {"type": "plain_text", "text": outcome},
                    "value": outcome,
                },
            }
        },
        "reason": {"reason": {"type": "plain_text_input", "value": reason}},
    }


async def test_pending_republish_and_close_from_the_coordinators_message(
    world: SlackWorld,
) -> None:
    number = published(world.sessions)
    world.drain()
    [offer] = world.dm("U0GRACE")
    options = {o["text"]["text"]: o for o in actions_of(offer)[0]["options"]}
    await world.post(click(world, "U0GRACE", offer, ASSIGN, selected_option=options["Dana Ruiz"]))
    await world.until(lambda: world.fake.calls("chat.update"))
    world.drain()

    # The primary coordinator's notification carries the steering buttons.
    [told] = world.dm("U0CASEY")
    buttons = actions_of(told)
    assert [e["action_id"] for e in buttons] == [PENDING, CLOSE, REPUBLISH, VIEW]
    value = {e["action_id"]: e["value"] for e in buttons}
    assert json.loads(value[PENDING]) == {"n": number}

    before = referral(world, number)
    assert before[0] == ReferralState.OPEN
    updates = len(world.fake.calls("chat.update"))
    answer = await world.post(click(world, "U0CASEY", told, PENDING, value=value[PENDING]))
    assert answer.status_code == 200
    await world.until(lambda: len(world.fake.calls("chat.update")) > updates)
    assert referral(world, number)[0] == ReferralState.PENDING_PLACEMENT
    # The message says who did it and keeps the buttons (to close, or publish again).
    [told] = world.dm("U0CASEY")
    assert "pending placement" in json.dumps(told["blocks"])
    assert [e["action_id"] for e in actions_of(told)] == [PENDING, CLOSE, REPUBLISH, VIEW]

    updates = len(world.fake.calls("chat.update"))
    [told] = world.dm("U0CASEY")
    await world.post(click(world, "U0CASEY", told, REPUBLISH, value=value[REPUBLISH]))
    await world.until(lambda: len(world.fake.calls("chat.update")) > updates)
    assert referral(world, number)[1] == before[1] + 1

    [told] = world.dm("U0CASEY")
    await world.post(click(world, "U0CASEY", told, CLOSE, value=value[CLOSE]))
    await world.until(lambda: world.fake.calls("views.open"))
    [opened] = world.fake.calls("views.open")
    modal = opened.params["view"]
    assert modal["callback_id"] == CLOSE_MODAL
    outcomes = [o["value"] for o in modal["blocks"][1]["element"]["options"]]
    assert outcomes == [o.value for o in NeedOutcome]

    # Partially met without a reason: the error sits under the reason, nothing is written.
    meta = modal["private_metadata"]
    unclosed = referral(world, number)
    bad = await world.post(
        slack_requests.view_submission(
            "U0CASEY", CLOSE_MODAL, meta, close_state("partially met", None)
        )
    )
    assert bad.json()["response_action"] == "errors"
    assert list(bad.json()["errors"]) == ["reason"]
    assert referral(world, number) == unclosed
    assert unclosed[0] != ReferralState.CLOSED

    good = await world.post(
        slack_requests.view_submission(
            "U0CASEY", CLOSE_MODAL, meta, close_state("partially met", "moved away")
        )
    )
    assert good.status_code == 200 and good.text == ""
    state, _, outcome, reason = referral(world, number)
    assert (state, outcome, reason) == (
        ReferralState.CLOSED,
        NeedOutcome.PARTIALLY_MET,
        "moved away",
    )
