"""Each `/referral` command carried out by the one use case it names, and its answer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.orm import Session

from bot.domain.permissions import Actor
from bot.domain.vocab import Channel
from bot.errors import InvalidInput, UserError
from bot.services import access, digests, directory, grid, referrals, work
from handlers.slack import commands as c
from handlers.slack.agreement import Agreement, run_agreement
from handlers.slack.blocks import access_actions, reply, text
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


async def _assign(cmd: c.Assign, gw: Gateway, client: AsyncWebClient, user: str) -> Answer:
    provider: str | int = cmd.person
    if cmd.slack_user is not None:
        provider = await gw.link(client, cmd.slack_user, unknown=_unknown_person(cmd.person))
    result = await gw.run(
        client,
        user,
        lambda s, a: work.assign_referral(
            s,
            actor=a,
            number=cmd.number,
            provider=provider,
            program=cmd.program,
            reassign=cmd.reassign,
            channel=SLACK,
        ),
    )
    return _said(result.summary, result.changed)


def _unknown_person(mention: str) -> Callable[[str | None], UserError]:
    def error(email: str | None) -> UserError:
        return InvalidInput(
            f"{mention} is not linked to a closeloop staff member.",
            field="person",
            hint="Name them by their email address instead.",
        )

    return error


async def _respond(cmd: c.Respond, gw: Gateway, client: AsyncWebClient, user: str) -> Answer:
    result = await gw.run(
        client,
        user,
        lambda s, a: work.respond_to_referral(
            s,
            actor=a,
            number=cmd.number,
            kind=cmd.kind,
            reason=cmd.reason,
            comment=cmd.comment,
            program=cmd.program,
            channel=SLACK,
        ),
    )
    return _said(result.summary, result.changed)


async def _status(cmd: c.SetStatus, gw: Gateway, client: AsyncWebClient, user: str) -> Answer:
    result = await gw.run(
        client,
        user,
        lambda s, a: work.set_service_status(
            s, actor=a, number=cmd.number, status=cmd.status, program=cmd.program, channel=SLACK
        ),
    )
    return _said(result.summary, result.changed)


async def _note(cmd: c.AddNote, gw: Gateway, client: AsyncWebClient, user: str) -> Answer:
    result = await gw.run(
        client,
        user,
        lambda s, a: work.add_note(
            s, actor=a, number=cmd.number, text=cmd.text, program=cmd.program, channel=SLACK
        ),
    )
    return _said(result.summary, result.changed)


async def _pending(cmd: c.Pending, gw: Gateway, client: AsyncWebClient, user: str) -> Answer:
    number = await gw.run(
        client,
        user,
        lambda s, a: (
            referrals.mark_pending_placement(s, actor=a, number=cmd.number, channel=SLACK).number
        ),
    )
    return reply(f"{number} is pending placement.")


async def _close(cmd: c.Close, gw: Gateway, client: AsyncWebClient, user: str) -> Answer:
    closing = {"outcome": cmd.outcome.value, "reason": cmd.reason}
    result = await gw.run(
        client,
        user,
        lambda s, a: referrals.close_referral(
            s, actor=a, number=cmd.number, closing=closing, channel=SLACK
        ),
    )
    return reply(f"{result.number} is closed ({cmd.outcome.value}); {result.notified} told.")


async def _republish(cmd: c.Republish, gw: Gateway, client: AsyncWebClient, user: str) -> Answer:
    result = await gw.run(
        client,
        user,
        lambda s, a: referrals.republish_referral(s, actor=a, number=cmd.number, channel=SLACK),
    )
    joined = f" Newly receiving: {', '.join(result.joined)}." if result.joined else ""
    return reply(
        f"{result.number} is published again to {len(result.programs)} program(s).{joined}"
    )


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
    c.Assign: _assign,
    c.Respond: _respond,
    c.SetStatus: _status,
    c.AddNote: _note,
    c.Pending: _pending,
    c.Close: _close,
    c.Republish: _republish,
    c.Digest: _digest,
    c.Suspension: _suspension,
    c.AskAccess: _ask_access,
    c.DecideAccess: _decide_access,
    c.RevokeAccess: _revoke_access,
    c.AccessQueue: _access_queue,
    Agreement: run_agreement,
}
