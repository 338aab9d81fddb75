"""Each `/referral` command carried out by the one use case it names, and its answer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.orm import Session

from bot.commands import WORK_COMMANDS, Assign, WorkCommand
from bot.domain.permissions import Actor
from bot.domain.vocab import Channel
from bot.errors import InvalidInput, UserError
from bot.services import access, digests, directory, grid, referrals
from bot.services.verbs import Applied, apply
from handlers.slack import commands as c
from handlers.slack.blocks import access_actions, reply, text
from handlers.slack.commands import mentioned_user
from handlers.slack.gateway import Gateway
from handlers.slack.screens import PAGE_SIZE, details_reply, grid_reply, help_reply

SLACK = Channel.SLACK
Answer = dict[str, Any]


async def execute(
    command: c.SlackCommand, gateway: Gateway, client: AsyncWebClient, user_id: str
) -> Answer:
    run = _RUNNERS[type(command)]
    return await run(command, gateway, client, user_id)


def _said(summary: str, changed: bool) -> Answer:
    return reply(summary if changed else f"Nothing changed: {summary}")


async def _help(cmd: Any, gw: Gateway, client: AsyncWebClient, user: str) -> Answer:
    return help_reply()


async def _list(cmd: c.ListReferrals, gw: Gateway, client: AsyncWebClient, user: str) -> Answer:
    return await gw.run(client, user, lambda s, a: list_page(s, a, cmd))


def list_page(
    session: Session, actor: Actor, cmd: c.ListReferrals, cursor: str | None = None
) -> Answer:
    """One page of the grid; `page N` without a cursor walks the keyset pages to it."""
    query = grid.GridQuery(
        scope=cmd.scope,  # type: ignore[arg-type]
        county=cmd.county,
        need=cmd.need,
        limit=PAGE_SIZE,
        cursor=cursor,
    )
    page = grid.search(session, actor=actor, query=query)
    if cursor is None:
        for _ in range(cmd.page - 1):
            if page.next_cursor is None:
                total = page.total if page.total_exact else f"more than {page.total}"
                return reply(f"There is no page {cmd.page}: the list has {total} referrals.")
            page = grid.search(session, actor=actor, query=replace(query, cursor=page.next_cursor))
    return grid_reply(page, cmd)


async def _show(cmd: c.Show, gw: Gateway, client: AsyncWebClient, user: str) -> Answer:
    return await gw.run(
        client,
        user,
        lambda s, a: details_reply(
            referrals.view_referral(s, actor=a, number=cmd.number, channel=SLACK)
        ),
    )


async def _work(cmd: WorkCommand, gw: Gateway, client: AsyncWebClient, user: str) -> Answer:
    """Every work verb: one command, applied by the one function every channel uses."""
    applied = await apply_for(gw, client, user, cmd)
    return reply(applied.answer)


async def apply_for(
    gateway: Gateway, client: AsyncWebClient, user_id: str, command: WorkCommand
) -> Applied:
    """`command` applied for the Slack user; a mentioned person (`<@U123>`) is first linked to
    the staff member they are."""
    if isinstance(command, Assign) and isinstance(command.provider, str):
        mention = mentioned_user(command.provider)
        if mention is not None:
            staff_id = await gateway.link(
                client, mention, unknown=_unknown_person(command.provider)
            )
            command = command.model_copy(update={"provider": staff_id})
    final = command
    return await gateway.run(
        client, user_id, lambda s, a: apply(s, actor=a, command=final, channel=SLACK)
    )


def _unknown_person(mention: str) -> Callable[[str | None], UserError]:
    def error(email: str | None) -> UserError:
        return InvalidInput(
            f"{mention} is not linked to a closeloop staff member.",
            field="person",
            hint="Name them by their email address instead.",
        )

    return error


async def _digest(cmd: c.Digest, gw: Gateway, client: AsyncWebClient, user: str) -> Answer:
    text: str = await gw.run(client, user, lambda s, a: digests.digest_text_for(s, actor=a))
    return reply(text)


async def _suspension(cmd: c.Suspension, gw: Gateway, client: AsyncWebClient, user: str) -> Answer:
    use_case = directory.suspend_program if cmd.suspend else directory.resume_program
    result = await gw.run(
        client, user, lambda s, a: use_case(s, actor=a, program=cmd.program, channel=SLACK)
    )
    state = "in no-referral status" if result.suspended else "receiving referrals"
    if not result.changed:
        return reply(f"Nothing changed: {result.program} is already {state}.")
    joined = f" It joined {result.joined} open referral(s)." if result.joined else ""
    return reply(f"{result.program} is now {state}.{joined}")


async def _ask_access(cmd: c.AskAccess, gw: Gateway, client: AsyncWebClient, user: str) -> Answer:
    result = await gw.run(
        client,
        user,
        lambda s, a: access.request_access(
            s, actor=a, role=cmd.role, program=cmd.program, channel=SLACK
        ),
    )
    return reply(result.summary)


async def _decide_access(
    cmd: c.DecideAccess, gw: Gateway, client: AsyncWebClient, user: str
) -> Answer:
    result = await gw.run(
        client,
        user,
        lambda s, a: access.decide_access_request(
            s, actor=a, request_id=cmd.request_id, approve=cmd.approve, note=cmd.note, channel=SLACK
        ),
    )
    return _said(result.summary, result.changed)


async def _revoke_access(
    cmd: c.RevokeAccess, gw: Gateway, client: AsyncWebClient, user: str
) -> Answer:
    result = await gw.run(
        client,
        user,
        lambda s, a: access.revoke_access(
            s, actor=a, staff_email=cmd.email, reason=cmd.reason, channel=SLACK
        ),
    )
    return _said(result.summary, result.changed)


async def _access_queue(
    cmd: c.AccessQueue, gw: Gateway, client: AsyncWebClient, user: str
) -> Answer:
    waiting = await gw.run(client, user, lambda s, a: access.pending_access_requests(s, actor=a))
    if not waiting:
        return reply("No access requests are waiting for you.")
    title = f"Access requests waiting for you: {len(waiting)}"
    blocks = [text(f"*{title}*")]
    # Slack allows 50 blocks in a message: two per request, after the title.
    for item in waiting[:24]:
        blocks.append(text(f"*{item.request_id}* · {item.summary}"))
        blocks.append(access_actions(item.request_id, block_id=f"access_{item.request_id}"))
    return reply(title, blocks)


_RUNNERS: dict[type, Callable[[Any, Gateway, AsyncWebClient, str], Awaitable[Answer]]] = {
    c.Help: _help,
    c.ListReferrals: _list,
    c.Show: _show,
    **dict.fromkeys(WORK_COMMANDS, _work),
    c.Digest: _digest,
    c.Suspension: _suspension,
    c.AskAccess: _ask_access,
    c.DecideAccess: _decide_access,
    c.RevokeAccess: _revoke_access,
    c.AccessQueue: _access_queue,
}
