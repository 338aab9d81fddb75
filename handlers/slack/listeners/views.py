"""Modal submissions: a tentative acceptance or a decline with its reason and comments."""

from __future__ import annotations

from typing import Any

from slack_bolt.app.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from bot.commands import Respond, parse
from bot.domain.vocab import ResponseKind
from handlers.slack.blocks import (
    COMMENT_BLOCK,
    REASON_BLOCK,
    RESPOND_MODAL,
    Target,
    acted,
    after_response,
    work_actions,
)
from handlers.slack.execute import apply_for
from handlers.slack.gateway import Gateway
from handlers.slack.outcome import blocks_from_metadata, outcome_line, read_metadata, refresh_home

Body = dict[str, Any]


def register(app: AsyncApp, gateway: Gateway) -> None:
    @app.view(RESPOND_MODAL)
    async def respond_form(ack: AsyncAck, body: Body, view: Body, client: AsyncWebClient) -> None:
        meta = read_metadata(str(view.get("private_metadata") or ""))
        kind = ResponseKind(meta["k"])
        command = respond_command(view)
        applied = await apply_for(gateway, client, body["user"]["id"], command)
        await ack()
        if not applied.changed:
            return
        line = outcome_line(applied.summary, applied.actor)
        after = work_actions(Target(meta["n"], meta.get("p")), respond=after_response(kind))
        if meta.get("c") and meta.get("t"):
            blocks = acted(blocks_from_metadata(meta), line, after)
            await client.chat_update(
                channel=meta["c"], ts=meta["t"], text=meta.get("f") or line, blocks=blocks
            )
        else:
            await refresh_home(gateway, client, body["user"]["id"])


def respond_command(view: Body) -> Respond:
    """The response a submitted Tentative / Decline modal gives."""
    meta = read_metadata(str(view.get("private_metadata") or ""))
    reason, comment = _form_values(view)
    return parse(
        Respond,
        {
            "number": meta["n"],
            "kind": meta["k"],
            "reason": reason,
            "comment": comment,
            "program": meta.get("p"),
        },
    )


def _form_values(view: Body) -> tuple[str | None, str | None]:
    values = (view.get("state") or {}).get("values") or {}
    picked = (values.get(REASON_BLOCK) or {}).get(REASON_BLOCK) or {}
    reason = (picked.get("selected_option") or {}).get("value")
    typed = (values.get(COMMENT_BLOCK) or {}).get(COMMENT_BLOCK) or {}
    return reason, typed.get("value")
