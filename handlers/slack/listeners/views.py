"""Modal submissions: a tentative acceptance or a decline with its reason and comments; a note;
a close with the need's outcome."""

from __future__ import annotations

from typing import Any

from slack_bolt.app.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from bot.commands import AddNote, Close, Respond, WorkCommand, parse
from handlers.slack.blocks import (
    CLOSE_MODAL,
    COMMENT_BLOCK,
    NEED_OUTCOME_BLOCK,
    NOTE_BLOCK,
    NOTE_MODAL,
    REASON_BLOCK,
    RESPOND_MODAL,
    Block,
    Target,
    acted,
    after_response,
    work_actions,
)
from handlers.slack.execute import apply_for
from handlers.slack.in_place import blocks_from_metadata, outcome_line, read_metadata, refresh_home
from handlers.slack.runner import UseCaseRunner

Body = dict[str, Any]


def register(app: AsyncApp, runner: UseCaseRunner) -> None:
    @app.view(RESPOND_MODAL)
    async def respond_form(ack: AsyncAck, body: Body, view: Body, client: AsyncWebClient) -> None:
        command = respond_command(view)
        target = Target(command.number, command.program)
        after = work_actions(target, respond=after_response(command.kind), follow_up=True)
        await _apply_submitted(runner, ack, body, view, client, command, after)

    @app.view(NOTE_MODAL)
    async def note_form(ack: AsyncAck, body: Body, view: Body, client: AsyncWebClient) -> None:
        command = note_command(view)
        after = work_actions(Target(command.number, command.program), respond=(), follow_up=True)
        await _apply_submitted(runner, ack, body, view, client, command, after)

    @app.view(CLOSE_MODAL)
    async def close_form(ack: AsyncAck, body: Body, view: Body, client: AsyncWebClient) -> None:
        # A closed referral has nothing left to steer: its message keeps no buttons.
        await _apply_submitted(runner, ack, body, view, client, close_command(view), None)


async def _apply_submitted(
    runner: UseCaseRunner,
    ack: AsyncAck,
    body: Body,
    view: Body,
    client: AsyncWebClient,
    command: WorkCommand,
    after: Block | None,
) -> None:
    """A modal's command applied before the acknowledgement, so that a refusal can be shown in
    the modal itself (see the error handler) instead of after it has closed; then the message
    the modal was opened from shows who did what."""
    applied = await apply_for(runner, client, body["user"]["id"], command)
    await ack()
    if not applied.changed:
        return
    meta = read_metadata(str(view.get("private_metadata") or ""))
    line = outcome_line(applied.summary, applied.actor)
    if meta.get("c") and meta.get("t"):
        blocks = acted(blocks_from_metadata(meta), line, after)
        await client.chat_update(
            channel=meta["c"], ts=meta["t"], text=meta.get("f") or line, blocks=blocks
        )
    else:
        await refresh_home(runner, client, body["user"]["id"])


def note_command(view: Body) -> AddNote:
    """The note a submitted Add note modal gives."""
    meta = read_metadata(str(view.get("private_metadata") or ""))
    values = (view.get("state") or {}).get("values") or {}
    typed = (values.get(NOTE_BLOCK) or {}).get(NOTE_BLOCK) or {}
    data = {"number": meta["n"], "text": typed.get("value") or "", "program": meta.get("p")}
    return parse(AddNote, data)


def close_command(view: Body) -> Close:
    """The close a submitted Close modal gives: the need's outcome and why."""
    meta = read_metadata(str(view.get("private_metadata") or ""))
    values = (view.get("state") or {}).get("values") or {}
    picked = (values.get(NEED_OUTCOME_BLOCK) or {}).get(NEED_OUTCOME_BLOCK) or {}
    typed = (values.get(REASON_BLOCK) or {}).get(REASON_BLOCK) or {}
    outcome = (picked.get("selected_option") or {}).get("value") or ""
    return parse(Close, {"number": meta["n"], "outcome": outcome, "reason": typed.get("value")})


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
