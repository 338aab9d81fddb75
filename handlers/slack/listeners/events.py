"""Events: App Home shows the person's queue each time they open it."""

from __future__ import annotations

from typing import Any

from slack_bolt.app.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from handlers.slack.in_place import refresh_home
from handlers.slack.runner import UseCaseRunner


def register(app: AsyncApp, runner: UseCaseRunner) -> None:
    @app.event("app_home_opened")
    async def home_opened(event: dict[str, Any], client: AsyncWebClient) -> None:
        if event.get("tab", "home") != "home":
            return
        await refresh_home(runner, client, str(event["user"]))
