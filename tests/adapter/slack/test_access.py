"""Access from Slack: ask, the officer's DM with Approve / Deny, the queue, stale clicks."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

from handlers.slack.blocks import APPROVE_ACCESS, DENY_ACCESS
from storage.db import transaction
from storage.models import AccessRequest, AuditEvent, RoleGrant, Staff
from tests.adapter.slack.conftest import SlackWorld
from tests.adapter.slack.test_loop import actions_of, click
from tests.adapter.slack.test_requests import answered, command
from tests.fakes import slack_requests

pytestmark = pytest.mark.anyio


def gatekeepers_of_res(world: SlackWorld) -> list[str]:
    with transaction(world.sessions) as s:
        return sorted(
            s.scalars(
                select(Staff.email)
                .join(RoleGrant, RoleGrant.staff_id == Staff.id)
                .where(
                    RoleGrant.role == "gatekeeper",
                    RoleGrant.revoked_at.is_(None),
                    RoleGrant.program.has(key="heartland-res"),
                )
            )
        )


async def ask_as_dana(world: SlackWorld) -> dict[str, Any]:
    """Dana asks; the officer's DM, once delivered."""
    await world.post(command(world, "U0DANA", "access request gate heartland-res"))
    [said] = await answered(world)
    assert said["text"] == (
        "Asked to be a gatekeeper of Heartland Residential; your agency's security officer "
        "has been told."
    )
    assert world.drain() == 1
    [offer] = world.dm("U0HELEN")
    return offer


async def test_request_approve_in_the_dm_updates_it_in_place_and_tells_the_requester(
    world: SlackWorld,
) -> None:
    offer = await ask_as_dana(world)

    assert offer["text"].startswith(
        "Dana Ruiz (dana@heartland.example.org) asks to be a gatekeeper of Heartland Residential"
    )
    buttons = actions_of(offer)
    assert [(b["action_id"], b["text"]["text"]) for b in buttons] == [
        (APPROVE_ACCESS, "Approve"),
        (DENY_ACCESS, "Deny"),
    ]
    approve = buttons[0]

    answer = await world.post(
        click(world, "U0HELEN", offer, APPROVE_ACCESS, value=approve["value"])
    )
    assert answer.status_code == 200
    await world.until(lambda: world.fake.calls("chat.update"))

    [updated] = world.dm("U0HELEN")
    outcome = json.dumps(updated["blocks"])
    assert "Approved: Dana Ruiz is now a gatekeeper of Heartland Residential." in outcome
    assert "Helen Ward" in outcome and "<!date^" in outcome
    assert actions_of(updated) == []
    assert "dana@heartland.example.org" in gatekeepers_of_res(world)

    world.drain()
    [told] = world.dm("U0DANA")
    assert told["text"] == (
        "Helen Ward approved your request to be a gatekeeper of Heartland Residential. You "
        "can act in that role from now on."
    )

    # The same button again (a double click, or a second officer's stale DM).
    before = world.counts()
    calls = len(world.fake.calls("chat.update"))
    await world.post(click(world, "U0HELEN", offer, DENY_ACCESS, value=approve["value"]))
    [_, stale] = await answered(world, 2)
    assert stale["text"] == (
        "Dana Ruiz's request to be a gatekeeper of Heartland Residential was approved by "
        "Helen Ward on 2026-03-02."
    )
    assert stale["replace_original"] is False
    await world.settle()
    assert world.counts() == before
    assert len(world.fake.calls("chat.update")) == calls


async def test_the_queue_and_a_deny_from_it(world: SlackWorld) -> None:
    await ask_as_dana(world)
    await world.post(command(world, "U0HELEN", "access pending"))
    [_, queue] = await answered(world, 2)
    assert queue["text"] == "Access requests waiting for you: 1"
    listed = json.dumps(queue["blocks"])
    assert "Dana Ruiz (dana@heartland.example.org) asks to be a gatekeeper" in listed
    deny = next(
        e
        for b in queue["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == DENY_ACCESS
    )

    # Clicked in the ephemeral list: answered below it, nothing to update in place.
    await world.post(
        slack_requests.block_actions(
            "U0HELEN",
            DENY_ACCESS,
            deny["value"],
            ephemeral=True,
            response_url=world.fake.hook_url("actions/U0HELEN"),
        )
    )
    [*_, said] = await answered(world, 3)
    assert "Denied: Dana Ruiz asked to be a gatekeeper of Heartland Residential." in said["text"]
    with transaction(world.sessions) as s:
        [request] = s.scalars(select(AccessRequest)).all()
        assert request.status == "denied"
        assert s.scalar(select(AuditEvent.channel).where(AuditEvent.action == "access_denied")) == (
            "slack"
        )
    assert "dana@heartland.example.org" not in gatekeepers_of_res(world)
    world.drain()
    [told] = world.dm("U0DANA")
    assert told["text"].startswith("Helen Ward denied your request")


async def test_someone_else_clicking_approve_is_refused_and_nothing_changes(
    world: SlackWorld,
) -> None:
    offer = await ask_as_dana(world)
    approve = actions_of(offer)[0]
    before = world.counts()

    # Say the DM was shared with her: the click reaches closeloop as Grace's.
    await world.post(
        slack_requests.block_actions(
            "U0GRACE",
            APPROVE_ACCESS,
            approve["value"],
            message_ts=offer["ts"],
            channel_id=world.fake.dm_channel("U0HELEN") or "",
            message=offer,
            response_url=world.fake.hook_url("actions/U0GRACE"),
        )
    )

    [_, said] = await answered(world, 2)
    assert said["text"] == (
        "Only a security officer of Heartland Community Living can decide this request."
    )
    await world.settle()
    assert world.counts() == before
    assert world.fake.calls("chat.update") == []


async def test_a_role_the_program_does_not_offer_is_refused_with_the_reason(
    world: SlackWorld,
) -> None:
    before = world.counts()
    await world.post(command(world, "U0DANA", "access request coordinator heartland-res"))
    [said] = await answered(world)
    assert said["text"].startswith("Heartland Residential does not offer the coordinator role")
    assert said["text"].endswith(
        "A program offers: gatekeeper, provider. Ask again for one of them."
    )
    assert world.counts() == before
