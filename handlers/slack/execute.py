"""Each `/referral` command carried out by the one use case it names, and its answer: the work
verbs through `bot.services.verbs.apply`, the others by one function each (texts in
templates/slack/answers/ and templates/verbs/)."""

from __future__ import annotations

from collections.abc import Callable
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
from bot.texts import render
from handlers.slack import commands as c
from handlers.slack.agreement import Agreement, run_agreement
from handlers.slack.blocks import access_actions, reply, text
from handlers.slack.commands import mentioned_user
from handlers.slack.runner import UseCaseRunner
from handlers.slack.screens import PAGE_SIZE, details_reply, grid_reply, help_reply

SLACK = Channel.SLACK
Answer = dict[str, Any]


async def execute(
    command: c.SlackCommand, runner: UseCaseRunner, client: AsyncWebClient, user_id: str
) -> Answer:
    if isinstance(command, c.Help):
        return help_reply()
    if isinstance(command, Agreement):
        # Before the actor check: a lapsed user agreement is what this command is for.
        return await run_agreement(command, runner, client, user_id)
    if isinstance(command, WORK_COMMANDS):
        return reply((await apply_for(runner, client, user_id, command)).answer)
    answer = _ANSWERS[type(command)]
    return await runner.run(client, user_id, lambda s, a: answer(s, a, command))


async def apply_for(
    runner: UseCaseRunner, client: AsyncWebClient, user_id: str, command: WorkCommand
) -> Applied:
    """`command` applied for the Slack user; a mentioned person (`<@U123>`) is first linked to
    the staff member they are."""
    if isinstance(command, Assign) and isinstance(command.provider, str):
        mention = mentioned_user(command.provider)
        if mention is not None:
            staff_id = await runner.link(client, mention, unknown=_unknown_person(command.provider))
            command = command.model_copy(update={"provider": staff_id})
    final = command
    return await runner.run(
        client, user_id, lambda s, a: apply(s, actor=a, command=final, channel=SLACK)
    )


def _unknown_person(mention: str) -> Callable[[str | None], UserError]:
    def error(email: str | None) -> UserError:
        return InvalidInput(
            render("slack/answers/not_linked.txt", mention=mention),
            field="person",
            hint="Name them by their email address instead.",
        )

    return error


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
                return reply(render("slack/answers/no_page.txt", page=cmd.page, total=total))
            page = grid.search(session, actor=actor, query=replace(query, cursor=page.next_cursor))
    return grid_reply(page, cmd)


def _said(summary: str, changed: bool) -> Answer:
    return reply(render("verbs/answer.txt", changed=changed, summary=summary))


def _show(session: Session, actor: Actor, cmd: c.Show) -> Answer:
    return details_reply(
        referrals.view_referral(session, actor=actor, number=cmd.number, channel=SLACK)
    )


def _digest(session: Session, actor: Actor, cmd: c.Digest) -> Answer:
    return reply(digests.digest_text_for(session, actor=actor))


def _suspension(session: Session, actor: Actor, cmd: c.Suspension) -> Answer:
    use_case = directory.suspend_program if cmd.suspend else directory.resume_program
    result = use_case(session, actor=actor, program=cmd.program, channel=SLACK)
    return reply(
        render(
            "slack/answers/suspension.txt",
            program=result.program,
            suspended=result.suspended,
            changed=result.changed,
            joined=result.joined,
        )
    )


def _ask_access(session: Session, actor: Actor, cmd: c.AskAccess) -> Answer:
    result = access.request_access(
        session, actor=actor, role=cmd.role, program=cmd.program, channel=SLACK
    )
    return reply(result.summary)


def _decide_access(session: Session, actor: Actor, cmd: c.DecideAccess) -> Answer:
    result = access.decide_access_request(
        session,
        actor=actor,
        request_id=cmd.request_id,
        approve=cmd.approve,
        note=cmd.note,
        channel=SLACK,
    )
    return _said(result.summary, result.changed)


def _revoke_access(session: Session, actor: Actor, cmd: c.RevokeAccess) -> Answer:
    result = access.revoke_access(
        session, actor=actor, staff_email=cmd.email, reason=cmd.reason, channel=SLACK
    )
    return _said(result.summary, result.changed)


def _access_queue(session: Session, actor: Actor, cmd: c.AccessQueue) -> Answer:
    waiting = access.pending_access_requests(session, actor=actor)
    title = render("slack/answers/access_waiting.txt", count=len(waiting))
    if not waiting:
        return reply(title)
    blocks = [text(f"*{title}*")]
    # Slack allows 50 blocks in a message: two per request, after the title.
    for item in waiting[:24]:
        blocks.append(text(f"*{item.request_id}* · {item.summary}"))
        blocks.append(access_actions(item.request_id, block_id=f"access_{item.request_id}"))
    return reply(title, blocks)


_ANSWERS: dict[type, Callable[[Session, Actor, Any], Answer]] = {
    c.ListReferrals: list_page,
    c.Show: _show,
    c.Digest: _digest,
    c.Suspension: _suspension,
    c.AskAccess: _ask_access,
    c.DecideAccess: _decide_access,
    c.RevokeAccess: _revoke_access,
    c.AccessQueue: _access_queue,
}
