"""Outbox notifications rendered for Slack: the text, the brief, and the buttons to act."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from bot.delivery import Notification
from bot.services.work import providers_of
from bot.texts import render_slack_text
from handlers.slack.blocks import (
    Block,
    Target,
    access_actions,
    context,
    coordinator_actions,
    payload_brief,
    text,
    view_only,
    work_actions,
)
from handlers.slack.referring import capacity_button
from handlers.slack.transport import SlackMessage
from storage.db import transaction
from storage.models import Program

# Messages that ask a gatekeeper to route the referral: the Assign select and the answers.
GATEKEEPER_KINDS = frozenset({"referral_published", "referral_republished", "program_joined"})
PROVIDER_KINDS = frozenset({"referral_assigned", "referral_reassigned"})
NO_BUTTONS = frozenset({"referral_closed", "referral_deleted", "delivery_failed"})


class SlackRenderer:
    """Renders a notification; reads the program's providers for the Assign select."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def __call__(self, notification: Notification) -> SlackMessage:
        payload = notification.payload
        line = render_slack_text(notification.kind, payload)
        blocks: list[Block] = [text(line)]
        if payload.get("number"):
            blocks.append(context(payload_brief(payload)))
        actions = self.actions(notification.kind, payload)
        if actions is not None:
            blocks.append(actions)
        return SlackMessage(text=_fallback(line), blocks=blocks)

    def actions(self, kind: str, payload: dict[str, Any]) -> Block | None:
        if kind == "thirty_day_reminder":
            return capacity_button()
        if kind == "access_requested":
            # Admins told for want of an officer cannot decide: no buttons for them.
            return None if payload.get("no_officer") else access_actions(int(payload["request_id"]))
        number = payload.get("number")
        if not number or kind in NO_BUTTONS:
            return None
        program = payload.get("program_key") or payload.get("program")
        target = Target(str(number), str(program) if program else None)
        audience = payload.get("audience", "gatekeeper" if kind == "program_joined" else None)
        if kind in GATEKEEPER_KINDS and audience == "gatekeeper":
            return work_actions(target, providers=self.providers(target.program))
        if kind in PROVIDER_KINDS and audience == "provider":
            return work_actions(target)
        if audience == "coordinator":
            # Steering the referral: its primary coordinator's buttons (others are refused).
            return coordinator_actions(Target(str(number)))
        # Everyone else: details on demand, nothing to answer.
        return view_only(Target(str(number)))

    def providers(self, program: str | None) -> list[tuple[int, str]]:
        if not program:
            return []
        with transaction(self.sessions) as session:
            found = session.scalar(
                select(Program).where(
                    or_(Program.key == program, func.lower(Program.name) == program.lower())
                )
            )
            if found is None:
                return []
            return [(s.id, s.name) for s in providers_of(session, found.id)]


def _fallback(line: str) -> str:
    """The notification text (for previews and screen readers) without mrkdwn stars."""
    return line.replace("*", "")
