"""App Home shows a capped queue and says how many more wait and where to see them."""

from __future__ import annotations

import json

import pytest

from tests.adapter.slack.conftest import SlackWorld
from tests.fakes import slack_requests
from tests.service.helpers import published

pytestmark = pytest.mark.anyio


async def _home(world: SlackWorld) -> dict[str, object]:
    await world.post(
        slack_requests.event_callback({"type": "app_home_opened", "user": "U0GRACE", "tab": "home"})
    )
    await world.until(lambda: world.fake.calls("views.publish"))
    view: dict[str, object] = world.fake.calls("views.publish")[-1].params["view"]
    return view


async def test_app_home_says_how_many_more_wait_and_where(world: SlackWorld) -> None:
    numbers = [published(world.sessions) for _ in range(23)]
    view = await _home(world)
    blocks = view["blocks"]
    assert isinstance(blocks, list) and len(blocks) <= 100
    shown = [n for n in numbers if n in json.dumps(blocks)]
    assert shown == numbers[:20]
    last = blocks[-1]["elements"][0]["text"]
    url = world.runtime.settings.public_url.rstrip("/") + "/referrals"
    assert last == (
        "Showing the 20 oldest of 23 waiting for you: 3 more. See them, oldest first, with "
        f"`/referral list` or <{url}|on the web>."
    )


async def test_a_short_queue_has_no_more_line(world: SlackWorld) -> None:
    published(world.sessions)
    view = await _home(world)
    assert "more. See them" not in json.dumps(view)
