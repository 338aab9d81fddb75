"""The whole web app with Slack on, against the fake Slack, on a drill's own database (the
adapter tests' SlackWorld, built outside pytest)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from bench.drills.common import settings_for
from storage.db import make_engine, make_session_factory, transaction
from tests.adapter.slack.conftest import SlackWorld, slack_world
from tests.conftest import Clock
from tests.fakes.slack_api import FakeSlack, start_fake_slack


class RealClock(Clock):
    """The wall clock, where the adapter tests' SlackWorld wants a Clock."""

    def __call__(self) -> datetime:
        return datetime.now(UTC)


@contextmanager
def world(database_url: str, **overrides: Any) -> Iterator[SlackWorld]:
    from bot.services.directory import import_directory, parse_directory
    from tests.network import small_network

    settings = settings_for(database_url)
    clock = RealClock(datetime.now(UTC))
    sessions = make_session_factory(make_engine(database_url), settings=settings, clock=clock)
    with transaction(sessions) as session:
        directory = parse_directory(small_network(), source="drill")
        import_directory(session, directory=directory, source="drill")
    fake: FakeSlack = start_fake_slack()
    worlds = slack_world(sessions, settings, clock, fake, **overrides)
    try:
        yield next(worlds)
    finally:
        worlds.close()
        fake.stop()
