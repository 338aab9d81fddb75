"""After an action: the message acted on is updated in place (who did what, when)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import InvalidInput
from bot.services.queue import work_queue
from bot.texts import local_moment
from handlers.slack.blocks import STALE_BUTTON, Block, acted, context, text
from handlers.slack.runner import UseCaseRunner
from handlers.slack.screens import home_view

# private_metadata holds at most 3000 characters; the message's own lines are cut to fit.
_METADATA_ROOM = 2500


def outcome_line(summary: str, actor_name: str, at: float | None = None) -> str:
    moment = int(at if at is not None else time.time())
    # Slack shows <!date> in each reader's own zone; the fallback is the network's local time.
    fallback = local_moment(datetime.fromtimestamp(moment, UTC)).strftime("%Y-%m-%d %H:%M %Z")
    stamp = f"<!date^{moment}^{{date_short_pretty}} {{time}}|{fallback}>"
    return f":white_check_mark: {summary} ({actor_name}, {stamp})"


def message_of(body: dict[str, Any]) -> tuple[str, str, list[Block], str] | None:
    """(channel, ts, blocks, text) of the bot message a button was in; None for App Home."""
    container = body.get("container") or {}
    message = body.get("message")
    if container.get("type") != "message" or container.get("is_ephemeral") or not message:
        return None
    return (
        str(container["channel_id"]),
        str(container["message_ts"]),
        list(message.get("blocks") or []),
        str(message.get("text") or ""),
    )


async def show_outcome(
    runner: UseCaseRunner,
    client: AsyncWebClient,
    body: dict[str, Any],
    line: str,
    actions: Block | None,
) -> None:
    found = message_of(body)
    if found is None:
        await refresh_home(runner, client, str(body["user"]["id"]))
        return
    channel, ts, blocks, fallback = found
    await client.chat_update(
        channel=channel, ts=ts, text=fallback or line, blocks=acted(blocks, line, actions)
    )


async def refresh_home(runner: UseCaseRunner, client: AsyncWebClient, user_id: str) -> None:
    items = await runner.run(client, user_id, lambda s, a: work_queue(s, actor=a))
    await client.views_publish(user_id=user_id, view=home_view(items))


def form_metadata(body: dict[str, Any], number: str, program: str | None, kind: str) -> str:
    """What a response modal must remember: the referral, and the message to update after."""
    data: dict[str, Any] = {"n": number, "p": program, "k": kind}
    found = message_of(body)
    if found is not None:
        channel, ts, blocks, fallback = found
        lines = [_line_of(b) for b in blocks if b.get("type") in ("section", "context")]
        lines = [x for x in lines if x is not None and x[0] != "outcome"]
        data.update(c=channel, t=ts, f=fallback[:300], x=_fit(lines))
    return json.dumps(data, separators=(",", ":"))


def read_metadata(raw: str) -> dict[str, Any]:
    try:
        data = json.loads(raw)
        if not isinstance(data, dict) or "n" not in data or "k" not in data:
            raise ValueError(raw)
    except ValueError:
        raise InvalidInput(STALE_BUTTON, hint="Use /referral instead.") from None
    return data


def blocks_from_metadata(data: dict[str, Any]) -> list[Block]:
    out: list[Block] = []
    for kind, value in data.get("x") or []:
        out.append(text(value) if kind == "section" else context(value))
    return out


def _line_of(block: Block) -> tuple[str, str] | None:
    if block.get("block_id") == "outcome":
        return ("outcome", "")
    if block.get("type") == "section":
        return ("section", str((block.get("text") or {}).get("text", "")))
    elements = block.get("elements") or []
    if elements and isinstance(elements[0], dict):
        return ("context", str(elements[0].get("text", "")))
    return None


def _fit(lines: list[tuple[str, str] | None]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    room = _METADATA_ROOM
    for item in lines:
        if item is None:
            continue
        kind, value = item
        value = value[: max(0, room)]
        room -= len(value) + 20
        out.append((kind, value))
        if room <= 0:
            break
    return out
