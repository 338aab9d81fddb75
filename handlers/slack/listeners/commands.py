"""`/referral`: parse the text, acknowledge, carry out the one use case, answer ephemerally."""

from __future__ import annotations

from typing import Any, Protocol

from slack_bolt.app.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from handlers.slack.commands import Help, SlackCommand, parse_command
from handlers.slack.execute import execute
from handlers.slack.runner import UseCaseRunner
from handlers.slack.screens import help_reply

COMMAND = "/referral"


class Answering(Protocol):
    """Writes a command down before it is acknowledged, then hands it to a process that carries
    it out and answers at response_url (handlers/slack/answering.py)."""

    async def queue(self, command: SlackCommand, user_id: str, response_url: str) -> int: ...

    async def hand(self, command_id: int) -> None: ...


def register(app: AsyncApp, runner: UseCaseRunner, answering: Answering | None = None) -> None:
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
        await respond(**await execute(parsed, runner, client, user_id))
