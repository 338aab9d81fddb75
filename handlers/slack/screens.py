"""Whole answers and views: help, the referral grid, a referral's details, App Home."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from bot.domain.vocab import RESPONSE_WORDS, DeclineReason, NeedOutcome, ProvisionReason
from bot.services.grid import GridPage, GridRow
from bot.services.queue import QueueItem
from bot.services.referrals import ReferralDetails
from bot.texts import as_typed_in_slack as typed
from bot.texts import render, render_slack_text
from handlers.slack.blocks import (
    MORE,
    Block,
    Target,
    brief,
    context,
    plain,
    reply,
    text,
    work_actions,
)
from handlers.slack.commands import ListReferrals

PAGE_SIZE = 10


@lru_cache(maxsize=1)
def _help_body() -> str:
    return render(
        "slack/help.txt",
        provision_reasons=[r.value for r in ProvisionReason],
        decline_reasons=[r.value for r in DeclineReason],
        outcomes=[o.value for o in NeedOutcome],
    )


def help_reply() -> dict[str, Any]:
    return reply("How to use /referral", [text(_help_body())])


def row_line(row: GridRow) -> str:
    """A grid row for the person who asked: no client name, which stays behind `show`."""
    head = brief(row.number, row.where, row.needs, row.urgency, row.age_days, row.aging)
    answer = RESPONSE_WORDS.get(row.response or "", "no answer yet")
    if row.response_reason:
        answer += f" ({typed(row.response_reason)})"
    overdue = " · :hourglass: overdue" if row.overdue else ""
    who = typed(row.assignee) if row.assignee else "unassigned"
    return f"{head} · {row.state}{overdue}\n{typed(row.program)}: {who} · {answer}"


def grid_reply(page: GridPage, query: ListReferrals) -> dict[str, Any]:
    if not page.rows:
        return reply(render("slack/screens/no_rows.txt", scope=query.scope))
    first = (query.page - 1) * PAGE_SIZE + 1
    last = first + len(page.rows) - 1
    total = f"{page.total}" if page.total_exact else f"{page.total}+"
    title = f"{query.scope.capitalize()} referrals {first}–{last} of {total}"
    blocks: list[Block] = [text(f"*{title}*")]
    blocks += [text(row_line(row)) for row in page.rows]
    if page.next_cursor:
        more = {
            "q": {"scope": query.scope, "county": query.county, "need": query.need},
            "c": page.next_cursor,
            "g": query.page + 1,
        }
        blocks.append(
            {
                "type": "actions",
                "block_id": "grid_more",
                "elements": [
                    {
                        "type": "button",
                        "action_id": MORE,
                        "text": plain("More"),
                        "value": json.dumps(more, separators=(",", ":")),
                    }
                ],
            }
        )
    return reply(title, blocks)


def details_reply(details: ReferralDetails) -> dict[str, Any]:
    """Client details: shown only to the person who asked (ephemeral), who has a role on it.
    What people typed is shown as typed (Slack would read <, > and & as markup)."""
    referral, client = details.referral, details.client
    where = "Statewide" if referral.statewide else ", ".join(c.name for c in referral.counties)
    about = {
        "number": referral.number,
        "state": str(referral.state),
        "urgency": str(referral.urgency),
        "where": where,
        "needs": list(referral.needs),
        "first_name": client.first_name,
        "last_name": client.last_name,
        "birth_date": client.birth_date.isoformat(),
        "gender": client.gender,
        "phone": client.phone,
        "address": client.address,
        "external_id": client.external_id,
        "guardians": list(client.guardians or []),
        "coordinator": referral.primary_coordinator.name,
        "summary": referral.summary,
    }
    programs = [
        {
            "program": r.program.name,
            "assignee": r.assignee.name if r.assignee else None,
            "response": str(r.response) if r.response else None,
            "reason": r.response_reason,
            "status": str(r.service_status) if r.service_status else None,
        }
        for r in details.recipients
    ]
    blocks = [text(render_slack_text("screens/details", about))]
    if programs:
        blocks.append(text(render_slack_text("screens/details_programs", {"programs": programs})))
    return reply(f"{referral.number}: details", blocks)


def home_view(items: list[QueueItem]) -> Block:
    blocks: list[Block] = [
        {"type": "header", "text": plain("Your referral queue")},
        context(render("slack/screens/home_intro.txt")),
    ]
    if not items:
        blocks.append(text(render("slack/screens/home_empty.txt")))
    # A view holds at most 100 blocks: three per item, the header, and the closing line.
    shown = items[:HOME_ITEMS]
    for item in shown:
        row = item.row
        target = Target(row.number, row.program_key)
        blocks.append({"type": "divider"})
        blocks.append(text(row_line(row)))
        blocks.append(
            work_actions(target, providers=item.providers, block_id=f"home_{row.recipient_id}")
        )
    total = max(getattr(items, "total", len(items)), len(items))
    if total > len(shown):
        web_url = getattr(items, "web_url", "")
        where = f"<{web_url}|on the web>" if web_url else "on the web pages"
        blocks.append({"type": "divider"})
        blocks.append(
            context(
                f"Showing the {len(shown)} oldest of {total} waiting for you: "
                f"{total - len(shown)} more. See them, oldest first, with `/referral list` "
                f"or {where}."
            )
        )
    return {"type": "home", "blocks": blocks}


HOME_ITEMS = 30


def not_linked_home(message: str) -> Block:
    return {"type": "home", "blocks": [text(message)]}
