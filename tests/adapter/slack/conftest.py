"""Fixtures for the Slack adapter tests: a running fake Slack and clients pointed at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_sdk import WebClient

from handlers.slack.client import make_web_client
from tests.fakes.slack_api import FakeSlack, start_fake_slack


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
