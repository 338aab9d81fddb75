"""Each refusal answered clearly and nothing changed; repeats and retries change nothing twice."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.actors import actor_by_email
from bot.domain.vocab import Channel
from bot.services import referrals, work
from bot.services.digests import digest_text_for
from handlers.slack.app import StickyAck
from handlers.slack.blocks import ACCEPT, ASSIGN, MORE, RESPOND_MODAL, Target, encode
from storage.db import transaction
from storage.models import OutboxMessage, Recipient, ResponseVersion, Staff
from tests.adapter.slack.conftest import STRANGER, SlackWorld
from tests.fakes import slack_requests
from tests.network import COORD, DANA, GK_HOME, LEE
from tests.service.helpers import published

pytestmark = pytest.mark.anyio


def command(world: SlackWorld, user: str, text: str, **kw: Any) -> Any:
    return slack_requests.slash_command(
        text=text, user_id=user, response_url=world.fake.hook_url(f"commands/{user}"), **kw
    )


def button(world: SlackWorld, user: str, action_id: str, value: str, **kw: Any) -> Any:
    return slack_requests.block_actions(
        user, action_id, value, response_url=world.fake.hook_url(f"actions/{user}"), **kw
    )


async def answered(world: SlackWorld, count: int = 1) -> list[dict[str, Any]]:
    """What was said back through response_url, once `count` answers arrived."""
    await world.until(lambda: len(world.fake.responses()) >= count)
    return [c.params for c in world.fake.responses()]


def assign_as_grace(world: SlackWorld, number: str, who: str = DANA) -> None:

    with transaction(world.sessions) as s:
        work.assign_referral(
            s, actor=actor_by_email(s, GK_HOME), number=number, provider=who, channel=Channel.API
        )


@pytest.mark.parametrize(
    "overrides",
    [
        {"secret": "not-the-signing-secret"},
        {"timestamp": int(time.time()) - 301},
    ],
    ids=["bad-signature", "stale-timestamp"],
)
async def test_forged_or_stale_requests_are_refused_and_change_nothing(
    world: SlackWorld, overrides: dict[str, Any]
) -> None:
    number = published(world.sessions)
    before = world.counts()

    answer = await world.post(command(world, "U0GRACE", f"accept {number}", **overrides))

    assert answer.status_code == 401
    await world.settle()
    assert world.counts() == before
    # Only the token check the web process makes at start-up reached Slack.
    assert [c.method for c in world.fake.calls()] == ["auth.test"]


async def test_a_request_without_a_signature_is_refused(world: SlackWorld) -> None:
    body, headers = command(world, "U0GRACE", "help")
    del headers["X-Slack-Signature"]
    answer = await world.post((body, headers))
    assert answer.status_code == 401
    # Only the token check the web process makes at start-up reached Slack.
    assert [c.method for c in world.fake.calls()] == ["auth.test"]


async def test_help_is_answered_in_the_acknowledgement(world: SlackWorld) -> None:
    answer = await world.post(command(world, "U0GRACE", "help"))

    assert answer.status_code == 200
    body = answer.json()
    assert body["response_type"] == "ephemeral"
    help_text = body["blocks"][0]["text"]["text"]
    for example in (
        "list [open|closed|mine|unassigned|overdue|all]",
        "decline R-2026-000042 no vacancy: full until June",
        "close R-2026-000042 OUTCOME[: reason]",
        "suspend PROGRAM",
    ):
        assert example in help_text
    # Only Bolt's one-time token check (auth.test) reached Slack.
    assert [c.method for c in world.fake.calls()] == ["auth.test"]


async def test_an_unlinked_user_is_told_who_to_ask_and_nothing_changes(
    world: SlackWorld,
) -> None:
    number = published(world.sessions)
    before = world.counts()

    answer = await world.post(command(world, STRANGER, f"accept {number}"))

    assert answer.status_code == 200
    [said] = await answered(world)
    assert said["response_type"] == "ephemeral"
    assert said["text"] == (
        "Your Slack account is not linked to closeloop: no staff member has the email address "
        "on your Slack profile (stranger@elsewhere.example.org). Ask your agency's security "
        "officer or a network admin to add you to closeloop."
    )
    assert world.counts() == before
    assert [c.method for c in world.fake.calls()] == ["auth.test", "users.info", "response_url"]


async def test_a_provider_cannot_assign_and_nothing_changes(world: SlackWorld) -> None:
    number = published(world.sessions)
    before = world.counts()

    await world.post(command(world, "U0DANA", f"assign {number} <@U0LEE|lee>"))

    [said] = await answered(world)
    assert said["text"] == "Only a gatekeeper of Heartland Residential can assign its referrals."
    # Linking the two people is all that was written: the staff rows' Slack ids.
    assert world.counts() == before
    with transaction(world.sessions) as s:
        [assignee] = s.scalars(select(Recipient.assignee_id)).all()
        assert assignee is None


async def test_an_unknown_referral_is_answered_without_confirming_anything(
    world: SlackWorld,
) -> None:
    published(world.sessions)
    before = world.counts()

    await world.post(command(world, "U0GRACE", "show 2026-999999"))

    [said] = await answered(world)
    assert said["text"] == (
        "There is no referral R-2026-999999. Referral numbers look like R-2026-000042."
    )
    assert world.counts() == before


async def test_an_unknown_reason_is_answered_with_the_valid_ones_at_once(
    world: SlackWorld,
) -> None:
    number = published(world.sessions)
    before = world.counts()

    answer = await world.post(command(world, "U0GRACE", f"decline {number} sunspots"))

    assert answer.status_code == 200
    assert answer.json() == {
        "response_type": "ephemeral",
        "text": '"sunspots" is not a decline reason I know. Choose one of: no vacancy, '
        "cannot meet medical needs, cannot meet behavioural needs, location, funding, "
        "staffing, other.",
    }
    await world.settle()
    assert world.counts() == before
    assert [c.method for c in world.fake.calls()] == ["auth.test"]


async def test_decline_by_command_takes_a_multi_word_reason_prefix(world: SlackWorld) -> None:
    number = published(world.sessions)

    await world.post(command(world, "U0GRACE", f"decline {number} no vac beds full"))

    [said] = await answered(world)
    assert said["text"] == f"{number} declined (no vacancy) for Heartland Residential."
    with transaction(world.sessions) as s:
        [version] = s.scalars(select(ResponseVersion)).all()
        assert (version.reason, version.comment) == ("no vacancy", "beds full")


async def test_assign_by_mention_links_the_person_and_assigns(world: SlackWorld) -> None:
    number = published(world.sessions)

    await world.post(command(world, "U0GRACE", f"assign {number} <@U0LEE|lee>"))

    [said] = await answered(world)
    assert said["text"] == f"{number} assigned to Lee Park at Heartland Residential."
    with transaction(world.sessions) as s:
        [recipient] = s.scalars(select(Recipient)).all()
        assert recipient.assignee is not None and recipient.assignee.email == LEE
        assert recipient.assignee.slack_user_id == "U0LEE"


async def test_a_stale_assign_select_says_what_happened_and_changes_nothing(
    world: SlackWorld,
) -> None:
    number = published(world.sessions)
    assign_as_grace(world, number, DANA)
    before = world.counts()
    with transaction(world.sessions) as s:
        lee = s.scalar(select(Staff.id).where(Staff.email == LEE))
    option = {"text": {"type": "plain_text", "text": "Lee Park"}}
    option["value"] = encode(Target(number, "heartland-res", lee))

    await world.post(
        slack_requests.block_actions(
            "U0GRACE",
            ASSIGN,
            selected_option=option,
            response_url=world.fake.hook_url("actions/grace"),
        )
    )

    [said] = await answered(world)
    assert said["text"] == (
        f"{number} is already assigned to Dana Ruiz at Heartland Residential. "
        "Use reassign to give it to someone else."
    )
    assert said["replace_original"] is False
    assert world.fake.calls("chat.update") == []
    assert world.counts() == before


async def test_a_button_on_a_closed_referral_changes_nothing(world: SlackWorld) -> None:

    number = published(world.sessions)
    assign_as_grace(world, number, DANA)
    with transaction(world.sessions) as s:
        referrals.close_referral(
            s,
            actor=actor_by_email(s, COORD),
            number=number,
            closing={"outcome": "fully met"},
            channel=Channel.API,
        )
    before = world.counts()

    await world.post(button(world, "U0DANA", ACCEPT, encode(Target(number, "heartland-res"))))

    [said] = await answered(world)
    assert "closed" in said["text"]
    assert world.fake.calls("chat.update") == []
    assert world.counts() == before


async def test_a_double_clicked_accept_is_recorded_once(world: SlackWorld) -> None:
    number = published(world.sessions)
    assign_as_grace(world, number, DANA)
    value = encode(Target(number, "heartland-res"))
    world.drain()
    [message] = world.dm("U0DANA")
    channel = world.fake.dm_channel("U0DANA")
    assert channel is not None

    for _ in range(2):
        await world.post(
            button(
                world,
                "U0DANA",
                ACCEPT,
                value,
                message=message,
                message_ts=message["ts"],
                channel_id=channel,
            )
        )
        await world.until(lambda: world.fake.calls("chat.update"))

    [said] = await answered(world)
    assert said["text"] == "That response is already recorded."
    assert len(world.fake.calls("chat.update")) == 1
    with transaction(world.sessions) as s:
        assert s.scalar(select(func.count()).select_from(ResponseVersion)) == 1
        told = s.scalars(
            select(OutboxMessage.kind).where(OutboxMessage.kind == "response_given")
        ).all()
        assert len(told) == 1


async def test_a_modal_answer_without_a_reason_is_shown_in_the_modal(world: SlackWorld) -> None:
    number = published(world.sessions)
    metadata = json.dumps({"n": number, "p": "heartland-res", "k": "decline"})
    before = world.counts()

    answer = await world.post(
        slack_requests.view_submission(
            "U0GRACE",
            RESPOND_MODAL,
            metadata,
            {"reason": {"reason": {"type": "static_select", "selected_option": None}}},
        )
    )

    assert answer.json() == {
        "response_action": "errors",
        "errors": {
            "reason": "A decline needs a reason. Choose one of: no vacancy, cannot meet medical "
            "needs, cannot meet behavioural needs, location, funding, staffing, other."
        },
    }
    assert world.counts() == before


async def test_list_shows_the_grid_and_pages(world: SlackWorld) -> None:
    numbers = [published(world.sessions) for _ in range(12)]

    await world.post(command(world, "U0GRACE", "list open"))

    [first] = await answered(world)
    text = json.dumps(first["blocks"], ensure_ascii=False)
    assert "Open referrals 1–10 of 12" in first["text"]
    assert numbers[0] in text and numbers[10] not in text
    assert "Heartland Residential: unassigned · no answer yet" in text
    assert "Example" not in text  # the list carries no client names
    more = first["blocks"][-1]["elements"][0]
    assert more["action_id"] == MORE

    await world.post(button(world, "U0GRACE", MORE, more["value"]))
    second = (await answered(world, 2))[1]
    assert second["replace_original"] is True
    assert "Open referrals 11–12 of 12" in second["text"]
    assert numbers[11] in json.dumps(second["blocks"])

    await world.post(command(world, "U0GRACE", "list open page 2"))
    third = (await answered(world, 3))[2]
    assert third["text"] == second["text"]


async def test_show_gives_client_details_only_ephemerally(world: SlackWorld) -> None:
    number = published(world.sessions, summary="Needs <24h support & a ground floor <!here>")

    await world.post(command(world, "U0GRACE", f"show {number}"))

    [said] = await answered(world)
    assert said["response_type"] == "ephemeral"
    shown = said["blocks"][0]["text"]["text"].splitlines()
    assert shown[2].startswith("Client: Client")
    # What people typed shows as typed: Slack would read < > & as links, pings and entities.
    assert shown[-1] == "Summary: Needs &lt;24h support &amp; a ground floor &lt;!here&gt;"
    assert world.fake.calls("chat.postMessage") == []


async def test_the_digest_on_demand_is_the_coordinators_digest(world: SlackWorld) -> None:

    number = published(world.sessions)
    await world.post(command(world, "U0CASEY", "digest"))
    [said] = await answered(world)
    assert said["response_type"] == "ephemeral"
    with transaction(world.sessions) as s:
        expected = digest_text_for(s, actor=actor_by_email(s, "casey@coord.example.org"))
    assert said["text"] == expected
    assert number in said["text"]

    await world.post(command(world, "U0DANA", "digest"))
    [_, refused] = await answered(world, count=2)
    assert refused["text"] == "The digest is for coordinators."


async def test_app_home_shows_the_queue_with_buttons(world: SlackWorld) -> None:
    number = published(world.sessions)

    answer = await world.post(
        slack_requests.event_callback(
            {"type": "app_home_opened", "user": "U0GRACE", "tab": "home", "channel": "D0HOME"}
        )
    )

    assert answer.status_code == 200
    await world.until(lambda: world.fake.calls("views.publish"))
    [published_view] = world.fake.calls("views.publish")
    view = published_view.params["view"]
    text = json.dumps(view)
    assert number in text
    actions = [b for b in view["blocks"] if b["type"] == "actions"]
    assert [e["action_id"] for e in actions[0]["elements"]][:2] == [ASSIGN, ACCEPT]


async def test_event_retries_are_acknowledged_and_dropped(world: SlackWorld) -> None:
    published(world.sessions)
    answer = await world.post(
        slack_requests.event_callback(
            {"type": "app_home_opened", "user": "U0GRACE", "tab": "home"}, retry_num=1
        )
    )
    assert answer.status_code == 200
    await world.settle()
    assert [c.method for c in world.fake.calls()] == ["auth.test"]


async def test_an_unlinked_user_opening_app_home_is_told_who_to_ask(world: SlackWorld) -> None:
    await world.post(
        slack_requests.event_callback({"type": "app_home_opened", "user": STRANGER, "tab": "home"})
    )
    await world.until(lambda: world.fake.calls("views.publish"))
    [call] = world.fake.calls("views.publish")
    assert "security officer or a network admin" in json.dumps(call.params["view"])


async def test_the_link_is_cached_and_checked_again_after_a_day(world: SlackWorld) -> None:
    published(world.sessions)
    for n in (1, 2):
        await world.post(command(world, "U0GRACE", "list"))
        await answered(world, n)
    assert len(world.fake.calls("users.info")) == 1

    world.runtime.clock.advance(days=1, minutes=1)  # type: ignore[attr-defined]
    await world.post(command(world, "U0GRACE", "list"))
    await answered(world, 3)
    assert len(world.fake.calls("users.info")) == 2


async def test_a_rate_limited_notification_is_delivered_once_after_retry_after(
    world: SlackWorld,
) -> None:
    published(world.sessions)
    world.fake.fail_next("chat.postMessage", status=429, retry_after=1)

    world.drain()

    posts = world.fake.calls("chat.postMessage")
    assert [c.status for c in posts][:2] == [429, 200]
    assert posts[1].at - posts[0].at >= 1.0
    grace = [c for c in posts if c.status == 200 and c.params["channel"] == "U0GRACE"]
    assert len(grace) == 1
    with transaction(world.sessions) as s:
        rows = s.scalars(select(OutboxMessage).where(OutboxMessage.channel == "slack")).all()
        assert {(r.status, r.attempts) for r in rows} == {("sent", 1)}


async def test_the_web_process_checks_the_slack_token_once_at_start_up(
    world: SlackWorld,
) -> None:
    async with world.api.router.lifespan_context(world.api):
        await world.until(lambda: world.fake.calls())
        answer = await world.post(command(world, "U0GRACE", "help"))
        assert answer.status_code == 200

    # Checked at start-up, not again inside the first command's 3 seconds.
    assert [c.method for c in world.fake.calls()] == ["auth.test"]


async def test_an_acknowledgement_stays_given_when_the_listener_raises_after_it() -> None:

    ack = StickyAck()
    assert ack.response is None
    await ack()
    given = ack.response
    assert given is not None and given.status == 200
    # What Bolt's error path does to a listener that raised after acknowledging.
    ack.response = None
    assert ack.response is given
