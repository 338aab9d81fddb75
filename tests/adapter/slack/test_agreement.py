"""The user agreement from Slack: a lapsed MOU refuses every command but `agreement`, which
shows the network's text and signs it for a year (audited, channel slack)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select, update

from storage.db import transaction
from storage.models import AuditEvent, Staff
from tests.adapter.slack.conftest import SlackWorld
from tests.adapter.slack.test_requests import answered, command
from tests.network import DANA

pytestmark = pytest.mark.anyio


async def test_a_lapsed_user_mou_is_signed_from_slack(world: SlackWorld) -> None:
    with transaction(world.sessions) as session:
        session.execute(
            update(Staff).where(Staff.email == DANA).values(user_mou_signed_on=date(2025, 2, 1))
        )

    await world.post(command(world, "U0DANA", "list"))
    [refused] = await answered(world)
    assert "user agreement (user MOU) is not signed" in refused["text"]
    assert "/referral agreement sign" in refused["text"]

    await world.post(command(world, "U0DANA", "agreement"))
    [_, shown] = await answered(world, 2)
    assert "I use closeloop only for the referrals" in shown["text"]
    assert "You signed it on 2025-02-01; it lapsed on 2026-02-02." in shown["text"]
    assert shown["text"].endswith("To agree for one year: /referral agreement sign")

    await world.post(command(world, "U0DANA", "agreement sign"))
    [*_, signed] = await answered(world, 3)
    assert signed["text"] == "Signed. Your user agreement is valid until 2027-03-03."
    await world.post(command(world, "U0DANA", "agreement sign"))
    [*_, again] = await answered(world, 4)
    assert "You can sign it again in its last 30 days" in again["text"]

    await world.post(command(world, "U0DANA", "list"))
    [*_, listed] = await answered(world, 5)
    assert "not signed" not in listed["text"]
    with transaction(world.sessions) as session:
        assert session.scalar(select(Staff.user_mou_signed_on).where(Staff.email == DANA)) == (
            date(2026, 3, 2)
        )
        channels = session.scalars(
            select(AuditEvent.channel).where(AuditEvent.action == "user_mou_signed")
        ).all()
        assert channels == ["slack"]
