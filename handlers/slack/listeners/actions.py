"""Buttons and selects on notifications, App Home and lists."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.app.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.commands import (
    Assign,
    MarkPending,
    Republish,
    Respond,
    SetStatus,
    WorkCommand,
    parse,
)
from bot.domain.vocab import Channel, ResponseKind
from bot.errors import InvalidInput
from bot.services import access, referrals
from bot.texts import render
from handlers.slack.blocks import (
    ACCEPT,
    APPROVE_ACCESS,
    ASSIGN,
    CLOSE,
    DECLINE,
    KIND_OF_ACTION,
    MORE,
    NOTE,
    PENDING,
    REPUBLISH,
    STALE_BUTTON,
    STATUS,
    TENTATIVE,
    VIEW,
    Target,
    access_request_of,
    after_response,
    close_modal,
    coordinator_actions,
    decode,
    note_modal,
    respond_modal,
    work_actions,
)
from handlers.slack.commands import ListReferrals
from handlers.slack.execute import apply_for, list_page
from handlers.slack.in_place import form_metadata, message_of, outcome_line, show_outcome
from handlers.slack.runner import UseCaseRunner
from handlers.slack.screens import details_reply

SLACK = Channel.SLACK
Body = dict[str, Any]


def register(app: AsyncApp, runner: UseCaseRunner) -> None:
    for action_id, (read, respond_left) in CLICKS.items():
        app.action(action_id)(_clicked(runner, read, respond_left))

    for action_id, read_lifecycle in LIFECYCLE_CLICKS.items():
        app.action(action_id)(_lifecycle_clicked(runner, read_lifecycle))

    @app.action(CLOSE)
    async def close_form(ack: AsyncAck, body: Body, action: Body, client: AsyncWebClient) -> None:
        # The trigger_id lives 3 seconds: open the modal before anything else.
        await ack()
        target = decode(action.get("value"))
        metadata = form_metadata(body, target.number, None, "close")
        await client.views_open(
            trigger_id=body["trigger_id"], view=close_modal(metadata, target.number)
        )

    @app.action(NOTE)
    async def note_form(ack: AsyncAck, body: Body, action: Body, client: AsyncWebClient) -> None:
        # The trigger_id lives 3 seconds: open the modal before anything else.
        await ack()
        target = decode(action.get("value"))
        metadata = form_metadata(body, target.number, target.program, "note")
        await client.views_open(
            trigger_id=body["trigger_id"], view=note_modal(metadata, target.number)
        )

    @app.action(re.compile(f"^({re.escape(TENTATIVE)}|{re.escape(DECLINE)})$"))
    async def open_form(ack: AsyncAck, body: Body, action: Body, client: AsyncWebClient) -> None:
        # The trigger_id lives 3 seconds: open the modal before anything else.
        await ack()
        target = decode(action.get("value"))
        kind = KIND_OF_ACTION[action["action_id"]]
        metadata = form_metadata(body, target.number, target.program, kind.value)
        await client.views_open(
            trigger_id=body["trigger_id"], view=respond_modal(kind, metadata, target.number)
        )

    @app.action(VIEW)
    async def view(
        ack: AsyncAck, body: Body, action: Body, client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()
        target = decode(action.get("value"))
        answer = await runner.run(
            client,
            body["user"]["id"],
            lambda s, a: details_reply(
                referrals.view_referral(s, actor=a, number=target.number, channel=SLACK)
            ),
        )
        await respond(**answer, replace_original=False)

    @app.action(re.compile(r"^access\.(approve|deny)$"))
    async def decide_access(
        ack: AsyncAck, body: Body, action: Body, client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()
        request_id = access_request_of(action.get("value"))
        approve = action["action_id"] == APPROVE_ACCESS
        result, who = await runner.run(
            client,
            body["user"]["id"],
            lambda s, a: (
                access.decide_access_request(
                    s, actor=a, request_id=request_id, approve=approve, channel=SLACK
                ),
                a.name,
            ),
        )
        if not result.changed:
            # A stale button (decided meanwhile, by this officer or another): say what happened.
            await respond(text=result.summary, response_type="ephemeral", replace_original=False)
            return
        line = outcome_line(access_outcome(result), who)
        if message_of(body) is None:
            # The officer's ephemeral queue: answered below it, the rest of the list stays.
            await respond(text=line, response_type="ephemeral", replace_original=False)
            return
        await show_outcome(runner, client, body, line, None)

    @app.action(MORE)
    async def more(
        ack: AsyncAck, body: Body, action: Body, client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()
        query, cursor = _grid_query(action.get("value"))
        answer = await runner.run(
            client, body["user"]["id"], lambda s, a: list_page(s, a, query, cursor)
        )
        await respond(**answer, replace_original=True)


def assign_command(action: Body) -> Assign:
    """The assignment an Assign select names: the provider picked, on the message's referral."""
    target = decode((action.get("selected_option") or {}).get("value"))
    if target.staff_id is None:
        raise InvalidInput(STALE_BUTTON, hint="Use /referral assign instead.")
    return Assign(number=target.number, provider=target.staff_id, program=target.program)


def status_command(action: Body) -> SetStatus:
    """The service status picked in a Status select."""
    target = decode((action.get("selected_option") or {}).get("value"))
    if target.choice is None:
        raise InvalidInput(STALE_BUTTON, hint="Use /referral status instead.")
    data = {"number": target.number, "status": target.choice, "program": target.program}
    return parse(SetStatus, data)


def accept_command(action: Body) -> Respond:
    target = decode(action.get("value"))
    return Respond(number=target.number, kind=ResponseKind.ACCEPT, program=target.program)


Reader = Callable[[Body], WorkCommand]


def _clicked(
    runner: UseCaseRunner, read: Reader, respond_left: tuple[str, ...] | None
) -> Callable[..., Awaitable[None]]:
    """A listener that applies the clicked element's command; the message clicked then shows
    who did what, or, when nothing changed (a double click), the clicker alone is told why."""

    async def listener(
        ack: AsyncAck, body: Body, action: Body, client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()
        command = read(action)
        target = Target(command.number, command.program)
        if respond_left is None:
            after = work_actions(target)
        else:
            after = work_actions(target, respond=respond_left, follow_up=True)
        applied = await apply_for(runner, client, body["user"]["id"], command)
        if not applied.changed:
            await respond(text=applied.summary, response_type="ephemeral", replace_original=False)
            return
        line = outcome_line(applied.summary, applied.actor)
        await show_outcome(runner, client, body, line, after)

    return listener


def _lifecycle_clicked(runner: UseCaseRunner, read: Reader) -> Callable[..., Awaitable[None]]:
    """Pending placement or re-publish from the coordinator's buttons: the message then shows
    who did what, with the coordinator's buttons still there (to close, or publish again)."""

    async def listener(
        ack: AsyncAck, body: Body, action: Body, client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()
        command = read(action)
        applied = await apply_for(runner, client, body["user"]["id"], command)
        if not applied.changed:
            await respond(text=applied.summary, response_type="ephemeral", replace_original=False)
            return
        line = outcome_line(applied.summary, applied.actor)
        await show_outcome(runner, client, body, line, coordinator_actions(Target(command.number)))

    return listener


def access_outcome(result: access.AccessRequestResult) -> str:
    """The line that replaces Approve / Deny once a request is decided."""
    return render(
        "slack/screens/access_decided.txt",
        role=result.role,
        program=result.program,
        status=result.status,
        requester=result.requester,
    )


def _grid_query(value: str | None) -> tuple[ListReferrals, str]:
    try:
        data = json.loads(value or "")
        q = data["q"]
        query = ListReferrals(q["scope"], q.get("county"), q.get("need"), int(data["g"]))
        return query, str(data["c"])
    except (ValueError, KeyError, TypeError):
        raise InvalidInput(STALE_BUTTON, hint="Use /referral list instead.") from None


# What each button or select means, and the response buttons left once it was used (with the
# service status and a note, which follow an answer): assigning leaves the buttons as they were,
# accepting leaves the other answers (to change it), a status leaves none.
CLICKS: dict[str, tuple[Reader, tuple[str, ...] | None]] = {
    ASSIGN: (assign_command, None),
    ACCEPT: (accept_command, after_response(ResponseKind.ACCEPT)),
    STATUS: (status_command, ()),
}

LIFECYCLE_CLICKS: dict[str, Reader] = {
    PENDING: lambda action: MarkPending(number=decode(action.get("value")).number),
    REPUBLISH: lambda action: Republish(number=decode(action.get("value")).number),
}
