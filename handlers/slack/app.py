"""The Bolt app (commands, interactivity, events) and its mount at POST /slack/events."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request, Response
from slack_bolt.adapter.fastapi.async_handler import AsyncSlackRequestHandler
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.runtime import Runtime
from bot.settings import SettingsError
from handlers.slack.answering import AnsweringPool
from handlers.slack.client import make_async_web_client
from handlers.slack.errors import answer_error
from handlers.slack.listeners import actions, commands, events, referring, views
from handlers.slack.runner import UseCaseRunner

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"


def build_slack_app(
    runtime: Runtime,
    *,
    client: AsyncWebClient | None = None,
    runner: UseCaseRunner | None = None,
    answering: AnsweringPool | None = None,
) -> AsyncApp:
    """The Bolt app for this runtime. Nothing is called at build time: Bolt checks the token
    (auth.test) on the first request, so a slow or unreachable Slack cannot delay start-up."""
    settings = runtime.settings
    if not settings.slack_signing_secret or not settings.slack_bot_token:
        raise SettingsError("setting SLACK_BOT_TOKEN: must be set with SLACK_SIGNING_SECRET")
    client = client or make_async_web_client(settings.slack_bot_token, settings.slack_api_url)
    authorization = WorkspaceAuthorization(client)
    app = AsyncApp(
        signing_secret=settings.slack_signing_secret,
        # The token travels in the authorization; Bolt copies it into each request's client.
        client=make_async_web_client(None, str(client.base_url)),
        authorize=authorization.for_bolt(),
        name="closeloop",
    )
    app.closeloop_authorization = authorization  # type: ignore[attr-defined]
    runner = runner or UseCaseRunner(runtime.sessions)
    app.middleware(drop_retries)
    app.middleware(keep_acknowledgements)
    app.error(answer_error)
    referring.register(app, runner)  # first: it takes only its own /referral verbs
    commands.register(app, runner, answering)
    for module in (actions, views, events):
        module.register(app, runner)
    return app


def mount_slack(api: FastAPI, runtime: Runtime, **kwargs: Any) -> AsyncApp:
    """Serve the Bolt app at POST /slack/events; close `api.state.slack_runner` (and
    `slack_answering`, with SLACK_ANSWER_PROCESSES) at shutdown."""
    runner = kwargs.pop("runner", None) or UseCaseRunner(runtime.sessions)
    answering = None
    if runtime.settings.slack_answer_processes:
        answering = AnsweringPool(runtime.settings, runtime.settings.slack_answer_processes)
    bolt = build_slack_app(runtime, runner=runner, answering=answering, **kwargs)
    handler = AsyncSlackRequestHandler(bolt)

    @api.post(EVENTS_PATH, include_in_schema=False)
    async def slack_events(request: Request) -> Response:
        return await handler.handle(request)

    api.state.slack = bolt
    api.state.slack_runner = runner
    api.state.slack_answering = answering
    api.state.slack_authorization = bolt.closeloop_authorization  # type: ignore[attr-defined]
    return bolt


class WorkspaceAuthorization:
    """Bolt's `authorize` for our one workspace: Slack's auth.test once, then remembered.

    Bolt counts a listener's 3 seconds from the start of the request, token check included, so
    the web process checks the token at start-up (`warm`) rather than inside the first command.
    """

    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client
        self._result: AuthorizeResult | None = None
        # A request arriving while the start-up check is still waiting for Slack waits for
        # that answer instead of asking again.
        self._checking = asyncio.Lock()

    async def authorize(self) -> AuthorizeResult:
        if self._result is None:
            async with self._checking:
                if self._result is None:
                    response = await self._client.auth_test()
                    self._result = AuthorizeResult.from_auth_test_response(
                        auth_test_response=response, bot_token=self._client.token
                    )
        return self._result

    def for_bolt(self) -> Callable[[], Awaitable[AuthorizeResult]]:
        # Bolt passes the arguments a function names; a bound method would be handed `self`.
        async def authorize() -> AuthorizeResult:
            return await self.authorize()

        return authorize

    async def warm(self) -> None:
        """Check the token now; a Slack that cannot be reached is tried again on the first
        request, so start-up never waits on it."""
        try:
            await self.authorize()
        except (TimeoutError, SlackApiError, OSError) as exc:
            log.warning("Slack token check at start-up failed (%s); will retry on use", exc)


async def drop_retries(
    request: AsyncBoltRequest, next: Callable[[], Awaitable[BoltResponse]]
) -> BoltResponse | None:
    """Slack re-sends an event it thinks we missed; the first delivery was already handled."""
    if request.headers.get("x-slack-retry-num"):
        return BoltResponse(status=200, body="")
    return await next()


class StickyAck(AsyncAck):
    """An acknowledgement that, once given, stays given.

    When a listener raises after acknowledging, Bolt's error path sets `ack.response` back to
    None; if that happens before its 10 ms poll has seen the acknowledgement (a refusal raised
    quickly after `ack()`), Bolt answers Slack 404 although the listener did acknowledge."""

    @property
    def response(self) -> BoltResponse | None:
        return self._given

    @response.setter
    def response(self, value: BoltResponse | None) -> None:
        if value is None and getattr(self, "_given", None) is not None:
            return
        self._given = value


async def keep_acknowledgements(
    request: AsyncBoltRequest, next: Callable[[], Awaitable[BoltResponse]]
) -> BoltResponse | None:
    request.context["ack"] = StickyAck()
    return await next()
