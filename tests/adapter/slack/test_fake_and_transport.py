"""The fake answers like Slack, the transport delivers through it, and Bolt accepts our signing."""

from __future__ import annotations

import json
import threading
import time
from http.client import RemoteDisconnected
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request, Response
from slack_bolt.adapter.fastapi.async_handler import AsyncSlackRequestHandler
from slack_bolt.app.async_app import AsyncApp
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.delivery import DeliveryError, Notification
from handlers.slack.client import make_async_web_client, make_web_client
from handlers.slack.pacing import ChannelPacer
from handlers.slack.transport import SlackMessage, SlackTransport
from tests.fakes import slack_requests
from tests.fakes.slack_api import BOT_USER_ID, TEAM_ID, FakeSlack

GATEKEEPER = "U0GATEKPR"
PROVIDER = "U0PROVIDR"
CHANNEL = "C0REFERRAL"


class FakeClock:
    """A clock that only moves when someone sleeps on it (or a test advances it)."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def notification(address: str, *, id: int = 1, **payload: Any) -> Notification:
    return Notification(
        id=id,
        key=f"published:R-2026-000042:{address}:{id}",
        channel="slack",
        kind="referral_published",
        address=address,
        staff_id=7,
        referral_id=42,
        payload={"number": "R-2026-000042", **payload},
    )


def render(n: Notification) -> SlackMessage:
    text = f"Referral {n.payload['number']} needs a response"
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
    update = n.payload.get("update")
    return SlackMessage(text=text, blocks=blocks, update=tuple(update) if update else None)


def transport(client: WebClient, **kwargs: Any) -> SlackTransport:
    clock = FakeClock()
    pacer = ChannelPacer(clock=clock, sleep=clock.sleep)
    return SlackTransport(client, render, pacer, **kwargs)


@pytest.fixture
def people(fake_slack: FakeSlack) -> FakeSlack:
    fake_slack.add_user(GATEKEEPER, "gina.gatekeeper@agency.example.org", "Gina Gatekeeper")
    fake_slack.add_user(PROVIDER, "paul.provider@agency.example.org", "Paul Provider")
    return fake_slack


# -- the fake answers like Slack -------------------------------------------------------------


def test_auth_test_answers_for_the_bot_and_refuses_a_wrong_token(
    fake_slack: FakeSlack, slack_client: WebClient
) -> None:
    answer = slack_client.auth_test()
    assert (answer["team_id"], answer["user_id"]) == (TEAM_ID, BOT_USER_ID)

    with pytest.raises(SlackApiError) as refused:
        make_web_client("xoxb-wrong", fake_slack.base_url).auth_test()
    assert refused.value.response["error"] == "invalid_auth"
    assert [c.token for c in fake_slack.calls("auth.test")] == [fake_slack.token, "xoxb-wrong"]


def test_post_to_a_user_opens_one_dm_channel(people: FakeSlack, slack_client: WebClient) -> None:
    first = slack_client.chat_postMessage(channel=GATEKEEPER, text="one")
    second = slack_client.chat_postMessage(channel=GATEKEEPER, text="two")
    opened = slack_client.conversations_open(users=[GATEKEEPER])

    dm = people.dm_channel(GATEKEEPER)
    assert dm is not None and dm.startswith("D")
    assert first["channel"] == second["channel"] == opened["channel"]["id"] == dm
    assert opened["already_open"] is True
    assert first["ts"] != second["ts"]
    assert [m["text"] for m in people.conversation(dm)] == ["one", "two"]
    assert len(people.messages_to(GATEKEEPER)) == 2
    assert len(people.messages_to(dm)) == 2


def test_post_to_an_unknown_user_is_channel_not_found(
    people: FakeSlack, slack_client: WebClient
) -> None:
    with pytest.raises(SlackApiError) as refused:
        slack_client.chat_postMessage(channel="U0NOBODY0", text="hello")
    assert refused.value.response["error"] == "channel_not_found"
    assert people.messages_to("U0NOBODY0") == []


def test_update_and_delete_change_the_stored_message(
    people: FakeSlack, slack_client: WebClient
) -> None:
    posted = slack_client.chat_postMessage(channel=CHANNEL, text="R-2026-000042 published")
    updated = slack_client.chat_update(
        channel=CHANNEL, ts=posted["ts"], text="R-2026-000042 accepted by Paul"
    )
    assert (updated["channel"], updated["ts"]) == (CHANNEL, posted["ts"])
    assert [m["text"] for m in people.conversation(CHANNEL)] == ["R-2026-000042 accepted by Paul"]

    slack_client.chat_delete(channel=CHANNEL, ts=posted["ts"])
    assert people.conversation(CHANNEL) == []
    with pytest.raises(SlackApiError) as refused:
        slack_client.chat_update(channel=CHANNEL, ts=posted["ts"], text="again")
    assert refused.value.response["error"] == "message_not_found"


def test_ephemeral_goes_to_one_user_in_a_channel(
    people: FakeSlack, slack_client: WebClient
) -> None:
    answer = slack_client.chat_postEphemeral(channel=CHANNEL, user=PROVIDER, text="Only you")
    assert isinstance(answer["message_ts"], str)
    assert len(people.messages_to(PROVIDER)) == 1
    assert len(people.messages_to(CHANNEL)) == 1
    assert people.conversation(CHANNEL) == []


def test_views_open_update_and_publish(people: FakeSlack, slack_client: WebClient) -> None:
    modal = {
        "type": "modal",
        "callback_id": "decline",
        "title": {"type": "plain_text", "text": "x"},
    }
    opened = slack_client.views_open(trigger_id="123.456.abc", view=modal)
    view_id = opened["view"]["id"]
    assert opened["view"]["callback_id"] == "decline"

    slack_client.views_update(view_id=view_id, view={**modal, "callback_id": "decline_confirmed"})
    stored = people.view(view_id)
    assert stored is not None and stored["callback_id"] == "decline_confirmed"
    with pytest.raises(SlackApiError) as refused:
        slack_client.views_update(view_id="V0MISSING", view=modal)
    assert refused.value.response["error"] == "not_found"

    home = slack_client.views_publish(user_id=PROVIDER, view={"type": "home", "blocks": []})
    again = slack_client.views_publish(user_id=PROVIDER, view={"type": "home", "blocks": []})
    assert home["view"]["id"] == again["view"]["id"]
    assert [c.params["view"]["type"] for c in people.calls("views.publish")] == ["home", "home"]


def test_users_info_and_lookup_by_email(people: FakeSlack, slack_client: WebClient) -> None:
    people.add_user("U0GONE001", "gone@agency.example.org", "Gone Person", deleted=True)
    info = slack_client.users_info(user=PROVIDER)["user"]
    assert (info["id"], info["real_name"], info["deleted"]) == (PROVIDER, "Paul Provider", False)
    assert info["profile"]["email"] == "paul.provider@agency.example.org"

    found = slack_client.users_lookupByEmail(email="Gina.Gatekeeper@agency.example.org")
    assert found["user"]["id"] == GATEKEEPER
    assert slack_client.users_info(user="U0GONE001")["user"]["deleted"] is True

    for call, error in [
        (lambda: slack_client.users_lookupByEmail(email="who@x.example.org"), "users_not_found"),
        (lambda: slack_client.users_info(user="U0NOBODY0"), "user_not_found"),
    ]:
        with pytest.raises(SlackApiError) as refused:
            call()
        assert refused.value.response["error"] == error


def test_form_encoded_blocks_are_recorded_as_data(
    people: FakeSlack, slack_client: WebClient
) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*R-2026-000042*"}}]
    slack_client.api_call(
        "chat.postMessage", params={"channel": CHANNEL, "text": "t", "blocks": json.dumps(blocks)}
    )
    slack_client.chat_postMessage(channel=CHANNEL, text="t", blocks=blocks)
    assert [c.params["blocks"] for c in people.calls("chat.postMessage")] == [blocks, blocks]


def test_scripted_failures_answer_once_then_slack_works_again(fake_slack: FakeSlack) -> None:
    bare = WebClient(token=fake_slack.token, base_url=fake_slack.base_url, retry_handlers=[])
    fake_slack.fail_next("chat.postMessage", error="channel_not_found")
    fake_slack.fail_next("chat.postMessage", status=429, retry_after=5)
    fake_slack.drop_next("chat.postMessage")

    with pytest.raises(SlackApiError) as first:
        bare.chat_postMessage(channel=CHANNEL, text="a")
    assert (first.value.response.status_code, first.value.response["error"]) == (
        200,
        "channel_not_found",
    )
    with pytest.raises(SlackApiError) as second:
        bare.chat_postMessage(channel=CHANNEL, text="b")
    assert second.value.response.status_code == 429
    assert second.value.response.headers["Retry-After"] == "5"
    with pytest.raises(RemoteDisconnected):
        bare.chat_postMessage(channel=CHANNEL, text="c")
    assert bare.chat_postMessage(channel=CHANNEL, text="d")["ok"] is True

    assert [c.status for c in fake_slack.calls("chat.postMessage")] == [200, 429, 0, 200]
    assert len(fake_slack.messages_to(CHANNEL)) == 1
    fake_slack.clear()
    assert fake_slack.calls() == []


def test_bad_requests_get_slacks_answers(people: FakeSlack) -> None:
    auth = {"Authorization": f"Bearer {people.token}"}
    with httpx.Client(base_url=people.base_url) as http:
        bad_blocks = http.post(
            "chat.postMessage", data={"channel": CHANNEL, "blocks": "[{"}, headers=auth
        )
        no_token = http.post("auth.test")
        unknown = http.post("chat.scheduleMessage", headers=auth)

    assert bad_blocks.json() == {"ok": False, "error": "invalid_json"}
    assert no_token.json() == {"ok": False, "error": "not_authed"}
    assert (unknown.status_code, unknown.json()["error"]) == (404, "unknown_method")
    assert [c.method for c in people.calls()] == [
        "chat.postMessage",
        "auth.test",
        "chat.scheduleMessage",
    ]


@pytest.mark.anyio
async def test_async_client_reads_users_and_waits_out_a_rate_limit(people: FakeSlack) -> None:
    client = make_async_web_client(people.token, people.base_url)
    people.fail_next("users.info", status=429, retry_after=1)

    info = await client.users_info(user=PROVIDER)
    found = await client.users_lookupByEmail(email="gina.gatekeeper@agency.example.org")

    assert (info["user"]["id"], found["user"]["id"]) == (PROVIDER, GATEKEEPER)
    first, second = people.calls("users.info")
    assert (first.status, second.status) == (429, 200)
    assert second.at - first.at >= 1.0


# -- the transport -----------------------------------------------------------------------------


def test_dm_to_a_user_returns_the_dm_channel_and_ts(
    people: FakeSlack, slack_client: WebClient
) -> None:
    receipt = transport(slack_client).deliver(notification(PROVIDER))

    [posted] = people.messages_to(PROVIDER)
    dm = people.dm_channel(PROVIDER)
    assert posted.response is not None
    assert receipt.external_ref == f"{dm}:{posted.response['ts']}"
    assert posted.params["channel"] == PROVIDER
    assert posted.params["text"] == "Referral R-2026-000042 needs a response"
    assert posted.params["blocks"][0]["type"] == "section"


def test_update_in_place_when_the_render_says_so(
    people: FakeSlack, slack_client: WebClient
) -> None:
    slack = transport(slack_client)
    first = slack.deliver(notification(CHANNEL))
    assert first.external_ref is not None
    channel, ts = first.external_ref.split(":")

    second = slack.deliver(notification(CHANNEL, id=2, update=[channel, ts]))

    assert second.external_ref == first.external_ref
    assert len(people.calls("chat.postMessage")) == 1
    assert [c.params["ts"] for c in people.calls("chat.update")] == [ts]
    assert len(people.conversation(CHANNEL)) == 1


def test_rate_limited_once_is_delivered_once_after_retry_after(
    people: FakeSlack, slack_client: WebClient
) -> None:
    people.fail_next("chat.postMessage", status=429, retry_after=1)

    receipt = transport(slack_client).deliver(notification(CHANNEL))

    first, second = people.calls("chat.postMessage")
    assert (first.status, second.status) == (429, 200)
    assert second.at - first.at >= 1.0
    assert len(people.messages_to(CHANNEL)) == 1
    assert second.response is not None
    assert receipt.external_ref == f"{CHANNEL}:{second.response['ts']}"


def test_rate_limit_that_outlasts_the_retries_is_retryable_with_retry_after(
    people: FakeSlack,
) -> None:
    client = make_web_client(people.token, people.base_url, max_rate_limit_retries=0)
    people.fail_next("chat.postMessage", status=429, retry_after=7)

    with pytest.raises(DeliveryError) as failed:
        transport(client).deliver(notification(CHANNEL))

    assert (failed.value.permanent, failed.value.retry_after) == (False, 7.0)
    assert len(people.calls("chat.postMessage")) == 1


def test_a_dropped_connection_is_retried_by_the_client(
    people: FakeSlack, slack_client: WebClient
) -> None:
    people.drop_next("chat.postMessage")

    transport(slack_client).deliver(notification(CHANNEL))

    assert [c.status for c in people.calls("chat.postMessage")] == [0, 200]
    assert len(people.messages_to(CHANNEL)) == 1


def test_connection_failures_beyond_the_retries_are_retryable(
    people: FakeSlack, slack_client: WebClient
) -> None:
    people.drop_next("chat.postMessage", times=2)

    with pytest.raises(DeliveryError) as failed:
        transport(slack_client).deliver(notification(CHANNEL))

    assert (failed.value.permanent, failed.value.retry_after) == (False, None)
    assert len(people.calls("chat.postMessage")) == 2
    assert people.messages_to(CHANNEL) == []


def test_email_address_is_looked_up_once_while_cached(
    people: FakeSlack, slack_client: WebClient
) -> None:
    clock = FakeClock()
    slack = transport(slack_client, email_cache_ttl=600.0, clock=clock)
    address = "paul.provider@agency.example.org"

    slack.deliver(notification(address, id=1))
    slack.deliver(notification(address, id=2))
    assert len(people.calls("users.lookupByEmail")) == 1
    assert len(people.messages_to(PROVIDER)) == 2

    clock.now += 601
    slack.deliver(notification(address, id=3))
    assert len(people.calls("users.lookupByEmail")) == 2
    assert len(people.messages_to(PROVIDER)) == 3


@pytest.mark.parametrize(
    ("address", "needle"),
    [
        ("nobody@agency.example.org", "No Slack user has the email address nobody@"),
        ("gone@agency.example.org", "deactivated"),
        ("#referrals", "not a Slack user id, channel id or email address"),
    ],
)
def test_addresses_that_cannot_reach_anyone_fail_permanently(
    people: FakeSlack, slack_client: WebClient, address: str, needle: str
) -> None:
    people.add_user("U0GONE001", "gone@agency.example.org", "Gone Person", deleted=True)

    with pytest.raises(DeliveryError) as failed:
        transport(slack_client).deliver(notification(address))

    assert failed.value.permanent is True
    assert needle in str(failed.value)
    assert people.calls("chat.postMessage") == []


@pytest.mark.parametrize(
    "error", ["channel_not_found", "user_not_found", "account_inactive", "not_in_channel"]
)
def test_slack_errors_no_retry_can_fix_are_permanent(
    people: FakeSlack, slack_client: WebClient, error: str
) -> None:
    people.fail_next("chat.postMessage", error=error)

    with pytest.raises(DeliveryError) as failed:
        transport(slack_client).deliver(notification(CHANNEL))

    assert failed.value.permanent is True
    assert str(failed.value).endswith(f": {error}")


def test_real_refusals_are_permanent(people: FakeSlack) -> None:
    people.remove_bot_from("C0PRIVATE")
    wrong_token = make_web_client("xoxb-revoked", people.base_url)
    good = make_web_client(people.token, people.base_url)

    cases = [
        (good, "U0NOBODY0", "channel_not_found"),
        (good, "C0PRIVATE", "not_in_channel"),
        (wrong_token, CHANNEL, "invalid_auth"),
    ]
    for client, address, error in cases:
        with pytest.raises(DeliveryError) as failed:
            transport(client).deliver(notification(address))
        assert (failed.value.permanent, str(failed.value).rsplit(": ", 1)[1]) == (True, error)


def test_an_unknown_slack_error_is_retried_later(
    people: FakeSlack, slack_client: WebClient
) -> None:
    people.fail_next("chat.postMessage", error="internal_error")

    with pytest.raises(DeliveryError) as failed:
        transport(slack_client).deliver(notification(CHANNEL))

    assert (failed.value.permanent, failed.value.retry_after) == (False, None)


def test_transport_paces_posts_to_the_same_channel(
    people: FakeSlack, slack_client: WebClient
) -> None:
    clock = FakeClock()
    slack = SlackTransport(slack_client, render, ChannelPacer(clock=clock, sleep=clock.sleep))

    for i in range(3):
        slack.deliver(notification(CHANNEL, id=i))
    slack.deliver(notification(PROVIDER, id=9))

    assert clock.slept == [1.0, 1.0]
    assert len(people.messages_to(CHANNEL)) == 3


# -- pacing -----------------------------------------------------------------------------------


def test_pacer_spaces_one_channel_and_leaves_others_alone() -> None:
    clock = FakeClock()
    pacer = ChannelPacer(1.0, clock=clock, sleep=clock.sleep)

    assert pacer.wait_turn("C1") == 0.0
    assert pacer.wait_turn("C1") == 1.0
    assert pacer.wait_turn("C2") == 0.0
    clock.now += 0.25
    assert pacer.wait_turn("C1") == 0.75
    clock.now += 5
    assert pacer.wait_turn("C1") == 0.0
    assert clock.slept == [1.0, 0.75]


def test_pacer_queues_concurrent_callers_one_interval_apart() -> None:
    slept: list[float] = []
    lock = threading.Lock()

    def record(seconds: float) -> None:
        with lock:
            slept.append(seconds)

    pacer = ChannelPacer(1.0, clock=lambda: 50.0, sleep=record)
    waits: list[float] = []
    threads = [
        threading.Thread(target=lambda: waits.append(pacer.wait_turn("C1"))) for _ in range(5)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(waits) == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert sorted(slept) == [1.0, 2.0, 3.0, 4.0]


# -- signed requests through Bolt ----------------------------------------------------------------


def bolt_api(fake: FakeSlack, seen: list[dict[str, Any]]) -> FastAPI:
    app = AsyncApp(
        client=make_async_web_client(fake.token, fake.base_url),
        signing_secret=slack_requests.SIGNING_SECRET,
        request_verification_enabled=True,
        process_before_response=True,
    )

    @app.command("/referral")
    async def referral(ack: Any, command: dict[str, Any]) -> None:
        seen.append(command)
        await ack(f"Working on: {command['text']}")

    @app.action("accept")
    async def accept(ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        seen.append({"action": action, "channel": body["container"]["channel_id"]})
        await ack()

    @app.action("assign")
    async def assign(ack: Any, action: dict[str, Any]) -> None:
        seen.append({"action": action})
        await ack()

    @app.view("decline")
    async def decline(ack: Any, view: dict[str, Any]) -> None:
        seen.append({"view": view})
        await ack()

    @app.event("app_mention")
    async def mention(event: dict[str, Any]) -> None:
        seen.append({"event": event})

    handler = AsyncSlackRequestHandler(app)
    api = FastAPI()

    @api.post("/slack/events")
    async def events(request: Request) -> Response:
        return await handler.handle(request)

    return api


async def post(api: FastAPI, signed: tuple[bytes, dict[str, str]]) -> httpx.Response:
    body, headers = signed
    transport = httpx.ASGITransport(app=api)
    async with httpx.AsyncClient(transport=transport, base_url="http://closeloop.test") as http:
        return await http.post("/slack/events", content=body, headers=headers)


@pytest.mark.anyio
async def test_bolt_accepts_a_correctly_signed_slash_command(fake_slack: FakeSlack) -> None:
    seen: list[dict[str, Any]] = []
    api = bolt_api(fake_slack, seen)

    answer = await post(api, slack_requests.slash_command(text="accept R-2026-000042"))

    assert answer.status_code == 200
    assert answer.text == "Working on: accept R-2026-000042"
    assert [(c["command"], c["user_id"]) for c in seen] == [("/referral", "U0GATEKPR")]
    # Bolt authorised the request by calling auth.test on the fake through aiohttp.
    assert len(fake_slack.calls("auth.test")) == 1


@pytest.mark.anyio
@pytest.mark.parametrize(
    "overrides",
    [{"secret": "not-the-signing-secret"}, {"timestamp": int(time.time()) - 301}],
    ids=["wrong-secret", "stale"],
)
async def test_bolt_refuses_forged_or_stale_requests(
    fake_slack: FakeSlack, overrides: dict[str, Any]
) -> None:
    seen: list[dict[str, Any]] = []
    api = bolt_api(fake_slack, seen)

    answer = await post(api, slack_requests.slash_command(text="accept", **overrides))

    assert answer.status_code == 401
    assert seen == []
    assert fake_slack.calls() == []


@pytest.mark.anyio
async def test_bolt_routes_signed_interactions_and_events(fake_slack: FakeSlack) -> None:
    seen: list[dict[str, Any]] = []
    api = bolt_api(fake_slack, seen)
    state = {"reason": {"decline_reason": {"type": "static_select", "selected_option": None}}}
    mention = {"type": "app_mention", "user": GATEKEEPER, "text": "<@U0FAKEBOT> hi", "ts": "1.2"}

    answers = [
        await post(api, slack_requests.block_actions(PROVIDER, "accept", "R-2026-000042")),
        await post(api, slack_requests.block_actions(GATEKEEPER, "assign", selected_user=PROVIDER)),
        await post(
            api, slack_requests.view_submission(PROVIDER, "decline", "R-2026-000042", state)
        ),
        await post(api, slack_requests.event_callback(mention, retry_num=1)),
    ]

    assert [a.status_code for a in answers] == [200, 200, 200, 200]
    assert seen[0]["action"]["value"] == "R-2026-000042"
    assert seen[0]["channel"] == CHANNEL
    assert seen[1]["action"]["selected_user"] == PROVIDER
    assert seen[2]["view"]["private_metadata"] == "R-2026-000042"
    assert seen[2]["view"]["state"]["values"] == state
    assert seen[3]["event"]["text"] == "<@U0FAKEBOT> hi"
    assert len(seen) == 4
