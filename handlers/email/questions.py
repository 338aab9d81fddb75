"""Ask a person which of two readings of their reply they meant, and apply their "1" or "2".

The question is an outbox row like every other answer; its payload keeps the readings, so the
reply to it (signed with the same referral and person, threaded under the question) finds them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.notify import enqueue
from handlers.email.answers import answer_channel
from handlers.email.commands import ParsedCommand
from handlers.email.phrasing import label
from handlers.email.reading import command_json
from storage.models import OutboxMessage, Staff

QUESTION = "email_question"
# Only the latest questions about one referral to one person can be meant by a bare "2".
RECENT_QUESTIONS = 10

MSG_NO_QUESTION = "Your reply is a number, but there is no question of ours it could answer."
HINT_NO_QUESTION = "Reply with the command itself, for example: accept."
MSG_NO_OPTION = "Your reply picks option {choice}, but the question had options 1 to {count}."
HINT_NO_OPTION = "Reply with one of the numbers in the question."


def ask(
    session: Session,
    *,
    staff: Staff,
    message_key: str,
    choices: tuple[ParsedCommand, ...],
    referral_id: int | None,
    number: str | None,
    line: str,
    in_reply_to: str | None,
) -> bool:
    """One short email asking which reading was meant; once per inbound message (the key)."""
    return enqueue(
        session,
        key=f"{QUESTION}:{message_key}",
        channel=answer_channel(session),
        kind=QUESTION,
        address=staff.email,
        staff_id=staff.id,
        referral_id=referral_id,
        payload={
            "number": number,
            "options": [{"label": label(c), **command_json(c)} for c in choices],
            "line": line,
            "in_reply_to": in_reply_to,
            "recipient_name": staff.name,
        },
    )


def answered(
    session: Session,
    *,
    staff: Staff,
    referral_id: int | None,
    in_reply_to: str | None,
    choice: int,
) -> tuple[ParsedCommand | None, str, str, str]:
    """The reading option `choice` names in the question this reply answers: the question the
    reply is threaded under, else the latest one to this person about this referral. When there
    is none, None with the refusal's reason, why and a hint for the sender."""
    questions = session.scalars(
        select(OutboxMessage)
        .where(
            OutboxMessage.kind == QUESTION,
            OutboxMessage.staff_id == staff.id,
            OutboxMessage.referral_id == referral_id
            if referral_id is not None
            else OutboxMessage.referral_id.is_(None),
        )
        .order_by(OutboxMessage.id.desc())
        .limit(RECENT_QUESTIONS)
    ).all()
    if not questions:
        return None, "no_question", MSG_NO_QUESTION, HINT_NO_QUESTION
    threaded = [q for q in questions if in_reply_to and q.external_ref == in_reply_to]
    options: list[dict[str, Any]] = list((threaded or questions)[0].payload.get("options", []))
    if not 1 <= choice <= len(options):
        why = MSG_NO_OPTION.format(choice=choice, count=len(options))
        return None, "no_option", why, HINT_NO_OPTION
    picked = options[choice - 1]
    command = ParsedCommand(
        verb=str(picked["verb"]),
        reason=picked.get("reason"),
        argument=picked.get("argument"),
        comment=str(picked.get("comment") or ""),
        number=picked.get("number"),
    )
    return command, "", "", ""
