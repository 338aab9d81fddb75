"""The full loop from Slack: publish, assign from the gatekeeper's DM, answer in a modal."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

from handlers.slack.blocks import ASSIGN, RESPOND_MODAL, TENTATIVE
from storage.db import transaction
from storage.models import OutboxMessage, Recipient, ResponseVersion, Staff
from tests.adapter.slack.conftest import SlackWorld
from tests.fakes import slack_requests
from tests.network import DANA
from tests.service.helpers import published

pytestmark = pytest.mark.anyio


def actions_of(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]]


def click(world: SlackWorld, user: str, message: dict[str, Any], action_id: str, **kw: Any) -> Any:
    channel = world.fake.dm_channel(user)
    assert channel is not None
    return slack_requests.block_actions(
        user,
        action_id,
        message_ts=message["ts"],
        channel_id=channel,
        message=message,
        response_url=world.fake.hook_url(f"actions/{user}"),
        **kw,
    )


async def test_publish_assign_and_tentative_answer_close_the_loop_in_slack(
    world: SlackWorld,
) -> None:
    number = published(world.sessions)
    assert world.drain() >= 1

    # The gatekeeper's DM: the minimum necessary, an Assign select of the program's providers.
    [offer] = world.dm("U0GRACE")
    assert f"New referral {number}" in offer["text"]
    assert "Example" not in json.dumps(offer["blocks"])  # no client name in a message
    elements = actions_of(offer)
    assert [e["action_id"] for e in elements] == [
        ASSIGN,
        "referral.accept",
        "referral.tentative",
        "referral.decline",
        "referral.view",
    ]
    options = {o["text"]["text"]: o for o in elements[0]["options"]}
    assert sorted(options) == ["Dana Ruiz", "Grace Holt", "Lee Park"]
    assert json.loads(elements[1]["value"]) == {"n": number, "p": "heartland-res"}

    answer = await world.post(
        click(world, "U0GRACE", offer, ASSIGN, selected_option=options["Dana Ruiz"])
    )
    assert answer.status_code == 200
    await world.until(lambda: world.fake.calls("chat.update"))

    with transaction(world.sessions) as session:
        [recipient] = session.scalars(select(Recipient)).all()
        assert recipient.assignee is not None and recipient.assignee.email == DANA
        grace = session.scalar(select(Staff).where(Staff.slack_user_id == "U0GRACE"))
        assert grace is not None  # linked by the email on the Slack profile
    [updated] = world.dm("U0GRACE")
    outcome = json.dumps(updated["blocks"])
    assert f"{number} assigned to Dana Ruiz at Heartland Residential." in outcome
    assert "Grace Holt" in outcome
    assert ASSIGN not in [e["action_id"] for e in actions_of(updated)]

    world.drain()
    [work] = world.dm("U0DANA")
    assert work["text"].startswith(
        f"Grace Holt assigned referral {number} at Heartland Residential to you."
    )
    assert [e["action_id"] for e in actions_of(work)] == [
        "referral.accept",
        "referral.tentative",
        "referral.decline",
        "referral.view",
    ]

    tentative = next(e for e in actions_of(work) if e["action_id"] == TENTATIVE)
    answer = await world.post(click(world, "U0DANA", work, TENTATIVE, value=tentative["value"]))
    assert answer.status_code == 200
    await world.until(lambda: world.fake.calls("views.open"))
    [opened] = world.fake.calls("views.open")
    modal = opened.params["view"]
    assert modal["callback_id"] == RESPOND_MODAL
    reasons = [o["value"] for o in modal["blocks"][1]["element"]["options"]]
    assert "pending funding approval" in reasons

    state = {
        "reason": {
            "reason": {
                "type": "static_select",
                "selected_option": {
                    "text": {"type": "plain_text", "text": "pending funding approval"},
                    "value": "pending funding approval",
                },
            }
        },
        "comment": {"comment": {"type": "plain_text_input", "value": "county decides Friday"}},
    }
    updates_before = len(world.fake.calls("chat.update"))
    answer = await world.post(
        slack_requests.view_submission("U0DANA", RESPOND_MODAL, modal["private_metadata"], state)
    )
    assert answer.status_code == 200
    assert answer.text == ""  # the modal closes
    await world.until(lambda: len(world.fake.calls("chat.update")) > updates_before)

    with transaction(world.sessions) as session:
        [version] = session.scalars(select(ResponseVersion)).all()
        assert (version.kind, version.reason, version.comment, version.channel) == (
            "tentative",
            "pending funding approval",
            "county decides Friday",
            "slack",
        )
    [answered] = world.dm("U0DANA")
    text = json.dumps(answered["blocks"])
    assert "tentatively accepted (pending funding approval)" in text
    assert [e["action_id"] for e in actions_of(answered)] == [
        "referral.accept",
        "referral.decline",
        "referral.status",
        "referral.note",
        "referral.view",
    ]

    world.drain()
    coordinator = world.dm("U0CASEY")
    said = [m["text"] for m in coordinator]
    assert any("answered referral" in t and "pending funding approval" in t for t in said)
    with transaction(world.sessions) as session:
        pending = session.scalars(select(OutboxMessage).where(OutboxMessage.status != "sent")).all()
        assert pending == []
        refs = session.scalars(select(OutboxMessage.external_ref)).all()
        assert all(ref and ":" in ref for ref in refs)
