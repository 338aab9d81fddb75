"""Events: App Home shows the person's queue each time they open it."""

from __future__ import annotations

from typing import Any

from slack_bolt.app.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from handlers.slack.gateway import Gateway
from handlers.slack.outcome import refresh_home


def register(app: AsyncApp, gateway: Gateway) -> None:
    @app.event("app_home_opened")
    async def home_opened(event: dict[str, Any], client: AsyncWebClient) -> None:
        if event.get("tab", "home") != "home":
            return
        await refresh_home(gateway, client, str(event["user"]))
