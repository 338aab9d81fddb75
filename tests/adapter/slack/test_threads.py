"""One Slack thread per referral in each DM: the first message starts it, the rest reply in it."""

from __future__ import annotations

import pytest

from bot.actors import actor_by_email
from bot.domain.vocab import Channel
from bot.services import referrals
from storage.db import transaction
from tests.adapter.slack.conftest import SlackWorld
from tests.network import COORD
from tests.service.helpers import published

pytestmark = pytest.mark.anyio


def _posts_to(world: SlackWorld, user: str) -> list[dict[str, object]]:
    return [
        {**c.params, "ts": c.response["ts"]} for c in world.fake.messages_to(user) if c.response
    ]


async def test_each_referral_has_one_thread_in_a_gatekeepers_dm(world: SlackWorld) -> None:
    first = published(world.sessions)
    second = published(world.sessions)
    world.drain()
    with transaction(world.sessions) as session:
        referrals.close_referral(
            session,
            actor=actor_by_email(session, COORD),
            number=first,
            closing={"outcome": "fully met"},
            channel=Channel.WEB,
        )
    world.drain()

    posts = _posts_to(world, world.fake.dm_channel("U0GRACE") or "U0GRACE")
    about = {n: [p for p in posts if n in str(p.get("text"))] for n in (first, second)}
    opened, closed = about[first]
    [other] = about[second]
    # The first message about each referral starts its thread; the close replies in it, and is
    # broadcast so that it shows in the DM too.
    assert "thread_ts" not in opened and "thread_ts" not in other
    assert closed["thread_ts"] == opened["ts"]
    assert closed["reply_broadcast"] is True
    assert opened["ts"] != other["ts"]
