"""Fixtures for the Slack adapter tests: a running fake Slack and clients pointed at it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from slack_sdk import WebClient
from sqlalchemy.orm import Session, sessionmaker

from bot.actors import staff_by_email
from bot.app import create_app
from bot.runtime import Runtime
from bot.settings import Settings
from handlers.slack.client import make_web_client
from storage.db import transaction
from tests.conftest import Clock, row_counts
from tests.fakes.slack_api import FakeSlack, start_fake_slack
from tests.fakes.slack_requests import SIGNING_SECRET
from tests.network import (
    ADMIN,
    BEN,
    COORD,
    COORD_SW,
    DANA,
    GK_HOME,
    GK_OZARK,
    GK_RIVER,
    LEE,
    OFFICER,
    STATEWIDE_COORD,
)


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    fake = start_fake_slack()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def slack_client(fake_slack: FakeSlack) -> WebClient:
    return make_web_client(fake_slack.token, fake_slack.base_url)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# -- the whole app: create_app with Slack configured, against the fake, on a real database -----

SLACK_IDS = {
    "U0GRACE": GK_HOME,
    "U0DANA": DANA,
    "U0LEE": LEE,
    "U0CASEY": COORD,
    "U0SAM": STATEWIDE_COORD,
    "U0WILLA": COORD_SW,
    "U0OLIVIA": GK_OZARK,
    "U0BEN": BEN,
    "U0RITA": GK_RIVER,
    "U0ADMIN": ADMIN,
    "U0HELEN": OFFICER,
}
STRANGER = "U0STRANGER"


class SlackWorld:
    """closeloop's web app with Slack on, the fake Slack it talks to, and the database."""

    def __init__(self, runtime: Runtime, api: FastAPI, fake: FakeSlack) -> None:
        self.runtime = runtime
        self.api = api
        self.fake = fake
        self.sessions = runtime.sessions
        self._started = False

    async def post(self, signed: tuple[bytes, dict[str, str]]) -> httpx.Response:
        if not self._started:
            # What the web process's start-up does (bot/app.py lifespan): httpx's ASGI
            # transport does not run the lifespan.
            await self.api.state.slack_authorization.warm()
            self._started = True
        body, headers = signed
        transport = httpx.ASGITransport(app=self.api)
        async with httpx.AsyncClient(transport=transport, base_url="http://closeloop.test") as http:
            return await http.post("/slack/events", content=body, headers=headers)

    def drain(self) -> int:
        return self.runtime.dispatcher().drain()

    def counts(self) -> dict[str, int]:
        with transaction(self.sessions) as session:
            return row_counts(session)

    def dm(self, user_id: str) -> list[dict[str, Any]]:
        """The messages now in the bot's DM with a user."""
        channel = self.fake.dm_channel(user_id)
        return self.fake.conversation(channel) if channel else []

    async def until(self, check: Callable[[], object], timeout: float = 5.0) -> None:
        """Wait for work Bolt does after acknowledging (it runs on after the HTTP answer)."""
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError("timed out waiting for the Slack listener")
            await asyncio.sleep(0.01)

    async def settle(self) -> None:
        """Let any work still running after an acknowledgement finish."""
        for _ in range(20):
            await asyncio.sleep(0.02)


@pytest.fixture
def world(
    network: sessionmaker[Session], settings: Settings, clock: Clock, fake_slack: FakeSlack
) -> Iterator[SlackWorld]:
    yield from slack_world(network, settings, clock, fake_slack)


@pytest.fixture
async def answering_world(
    network: sessionmaker[Session], settings: Settings, clock: Clock, fake_slack: FakeSlack
) -> AsyncIterator[SlackWorld]:
    """The same, with commands carried out in answering processes (SLACK_ANSWER_PROCESSES);
    async, so their pipes are closed on the test's event loop."""
    worlds = slack_world(network, settings, clock, fake_slack, slack_answer_processes=2)
    world = next(worlds)
    try:
        yield world
    finally:
        world.api.state.slack_answering.close()
        worlds.close()


def slack_world(
    network: sessionmaker[Session],
    settings: Settings,
    clock: Clock,
    fake_slack: FakeSlack,
    **overrides: Any,
) -> Iterator[SlackWorld]:
    for user_id, email in SLACK_IDS.items():
        with transaction(network) as session:
            staff = staff_by_email(session, email)
            assert staff is not None
            fake_slack.add_user(user_id, email, staff.name)
    fake_slack.add_user(STRANGER, "stranger@elsewhere.example.org", "Sam Stranger")
    configured = settings.model_copy(
        update={
            "slack_bot_token": fake_slack.token,
            "slack_signing_secret": SIGNING_SECRET,
            "slack_api_url": fake_slack.base_url,
            **overrides,
        }
    )
    runtime = Runtime(configured, clock=clock)
    api = create_app(configured, runtime=runtime)
    try:
        yield SlackWorld(runtime, api, fake_slack)
    finally:
        if api.state.slack_answering is not None:
            api.state.slack_answering.close()
        runtime.close()
