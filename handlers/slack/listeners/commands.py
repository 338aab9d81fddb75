"""`/referral`: parse the text, acknowledge, carry out the one use case, answer ephemerally."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from slack_bolt.app.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from handlers.slack.commands import Help, parse_command
from handlers.slack.execute import execute
from handlers.slack.gateway import Gateway
from handlers.slack.screens import help_reply

if TYPE_CHECKING:
    from handlers.slack.answering import AnsweringPool

COMMAND = "/referral"


def register(app: AsyncApp, gateway: Gateway, answering: AnsweringPool | None = None) -> None:
    @app.command(COMMAND)
    async def referral(
        ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        # Parsing is pure and quick, so a typo is answered in the acknowledgement itself.
        parsed = parse_command(str(command.get("text") or ""))
        if isinstance(parsed, Help):
            await ack(**help_reply())
            return
        user_id = str(command["user_id"])
        if answering is not None and respond.response_url:
            # Written down before it is acknowledged: answered even if a process dies.
            queued = await answering.queue(parsed, user_id, respond.response_url)
            await ack()
            await answering.hand(queued)
            return
        # Slack gives us 3 seconds: acknowledge first, then work and answer by response_url.
        await ack()
        await respond(**await execute(parsed, gateway, client, user_id))
