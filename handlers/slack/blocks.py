"""Block Kit for closeloop, built by pure functions that return dicts."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from bot.domain.vocab import (
    DeclineReason,
    NeedOutcome,
    ProvisionReason,
    ResponseKind,
    ServiceStatus,
)
from bot.errors import InvalidInput

Block = dict[str, Any]

ASSIGN = "referral.assign"
ACCEPT = "referral.accept"
TENTATIVE = "referral.tentative"
DECLINE = "referral.decline"
VIEW = "referral.view"
STATUS = "referral.status"
NOTE = "referral.note"
NOTE_MODAL = "referral.note_form"
NOTE_BLOCK = "note"
MORE = "grid.more"
APPROVE_ACCESS = "access.approve"
DENY_ACCESS = "access.deny"
RESPOND_MODAL = "referral.respond"
# The primary coordinator's buttons on a referral's notification, and the Close modal.
PENDING = "referral.pending"
REPUBLISH = "referral.republish"
CLOSE = "referral.close"
CLOSE_MODAL = "referral.close_form"
NEED_OUTCOME_BLOCK = "need_outcome"
ACTIONS_BLOCK = "referral_actions"
REASON_BLOCK = "reason"
COMMENT_BLOCK = "comment"

LABELS = {
    ACCEPT: "Accept",
    TENTATIVE: "Tentative",
    DECLINE: "Decline",
    VIEW: "View",
    NOTE: "Add note",
    PENDING: "Pending placement",
    CLOSE: "Close",
    REPUBLISH: "Re-publish",
}
KIND_OF_ACTION = {
    ACCEPT: ResponseKind.ACCEPT,
    TENTATIVE: ResponseKind.TENTATIVE,
    DECLINE: ResponseKind.DECLINE,
}
ACTION_OF_KIND = {kind: action for action, kind in KIND_OF_ACTION.items()}
STALE_BUTTON = "That button belongs to a message closeloop can no longer read."


@dataclass(frozen=True)
class Target:
    """What a button acts on; carried in its value, so buttons outlive a restart."""

    number: str
    program: str | None = None
    staff_id: int | None = None
    # A choice the element stands for (a service status's name in the Status select).
    choice: str | None = None


def encode(target: Target) -> str:
    data: dict[str, Any] = {"n": target.number}
    if target.program:
        data["p"] = target.program
    if target.staff_id is not None:
        data["s"] = target.staff_id
    if target.choice is not None:
        data["v"] = target.choice
    return json.dumps(data, separators=(",", ":"))


def decode(value: str | None) -> Target:
    try:
        data = json.loads(value or "")
        staff = data.get("s")
        staff_id = int(staff) if staff is not None else None
        choice = data.get("v")
        return Target(str(data["n"]), data.get("p"), staff_id, str(choice) if choice else None)
    except (ValueError, KeyError, TypeError, AttributeError):
        raise InvalidInput(STALE_BUTTON, hint="Use /referral instead.") from None


def text(mrkdwn: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": mrkdwn[:3000]}}


def context(mrkdwn: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": mrkdwn[:3000]}]}


def plain(value: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": value[:75], "emoji": True}


def brief(
    number: str,
    where: str,
    needs: Iterable[str],
    urgency: str,
    age_days: int | None,
    aging: bool,
) -> str:
    """One line with the minimum necessary: number, where, needs, urgency, age."""
    parts = [f"*{number}*", where or "-", ", ".join(needs) or "-", urgency]
    if age_days is not None:
        parts.append(
            f"{age_days} day{'' if age_days == 1 else 's'}"
            + (" :warning: over 60" if aging else "")
        )
    return " · ".join(parts)


def payload_brief(payload: dict[str, Any]) -> str:
    needs = [f"{n['code']} {n['name']}" for n in payload.get("needs") or []]
    return brief(
        str(payload.get("number", "")),
        str(payload.get("where", "")),
        needs,
        str(payload.get("urgency", "")),
        payload.get("age_days"),
        bool(payload.get("aging")),
    )


def button(action_id: str, target: Target, *, style: str | None = None) -> Block:
    element: Block = {
        "type": "button",
        "action_id": action_id,
        "text": plain(LABELS[action_id]),
        "value": encode(target),
    }
    if style:
        element["style"] = style
    return element


def provider_select(target: Target, providers: Sequence[tuple[int, str]]) -> Block:
    """A static select of the program's providers: only people who may be assigned appear."""
    return {
        "type": "static_select",
        "action_id": ASSIGN,
        "placeholder": plain("Assign to…"),
        "options": [
            {
                "text": plain(name),
                "value": encode(Target(target.number, target.program, staff_id)),
            }
            for staff_id, name in providers[:100]
        ],
    }


def status_select(target: Target) -> Block:
    """The 13 service statuses, for a referral the program is working."""
    return {
        "type": "static_select",
        "action_id": STATUS,
        "placeholder": plain("Service status…"),
        "options": [
            {
                "text": plain(status.value),
                "value": encode(Target(target.number, target.program, choice=status.name)),
            }
            for status in ServiceStatus
        ],
    }


def work_actions(
    target: Target,
    *,
    providers: Sequence[tuple[int, str]] = (),
    respond: Iterable[str] = (ACCEPT, TENTATIVE, DECLINE),
    follow_up: bool = False,
    block_id: str = ACTIONS_BLOCK,
) -> Block:
    """The buttons on a referral: assign, respond, and once answered (`follow_up`) the service
    status and a note; View always."""
    elements: list[Block] = []
    if providers:
        elements.append(provider_select(target, providers))
    styles = {ACCEPT: "primary", DECLINE: "danger"}
    elements += [button(a, target, style=styles.get(a)) for a in respond]
    if follow_up:
        elements += [status_select(target), button(NOTE, target)]
    elements.append(button(VIEW, target))
    return {"type": "actions", "block_id": block_id, "elements": elements}


def coordinator_actions(target: Target, *, block_id: str = ACTIONS_BLOCK) -> Block:
    """The primary coordinator's buttons: pending placement, close (a modal), re-publish; View.
    Whoever else clicks them is refused by the use case, as when typed."""
    elements = [button(a, Target(target.number)) for a in (PENDING, CLOSE, REPUBLISH, VIEW)]
    return {"type": "actions", "block_id": block_id, "elements": elements}


def view_only(target: Target) -> Block:
    return work_actions(target, respond=())


def after_response(kind: str) -> tuple[str, ...]:
    """The response buttons left once a program answered: the other answers, to change it."""
    return tuple(a for a in (ACCEPT, TENTATIVE, DECLINE) if KIND_OF_ACTION[a] != kind)


def acted(original: Sequence[Block], line: str, actions: Block | None) -> list[Block]:
    """The message that was acted on, its old buttons and outcome replaced by `line` and
    `actions`: a channel or DM then shows who did what, and only the buttons still useful."""
    kept = [
        b
        for b in original
        if b.get("type") != "actions" and not str(b.get("block_id", "")).startswith("outcome")
    ]
    kept.append({**context(line), "block_id": "outcome"})
    if actions is not None:
        kept.append(actions)
    return kept


def respond_modal(kind: ResponseKind, metadata: str, number: str) -> Block:
    """Tentative (provision reason) or decline (decline reason), with comments."""
    reasons = ProvisionReason if kind == ResponseKind.TENTATIVE else DeclineReason
    title = "Tentative acceptance" if kind == ResponseKind.TENTATIVE else "Decline"
    label = "Provision" if kind == ResponseKind.TENTATIVE else "Reason"
    return {
        "type": "modal",
        "callback_id": RESPOND_MODAL,
        "private_metadata": metadata,
        "title": plain(title),
        "submit": plain("Send"),
        "close": plain("Cancel"),
        "blocks": [
            text(f"Your answer to *{number}*."),
            {
                "type": "input",
                "block_id": REASON_BLOCK,
                "label": plain(label),
                "element": {
                    "type": "static_select",
                    "action_id": REASON_BLOCK,
                    "placeholder": plain("Choose a reason"),
                    "options": [{"text": plain(r.value), "value": r.value} for r in reasons],
                },
            },
            {
                "type": "input",
                "block_id": COMMENT_BLOCK,
                "optional": True,
                "label": plain("Comments"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": COMMENT_BLOCK,
                    "multiline": True,
                    "max_length": 2000,
                },
            },
        ],
    }


def close_modal(metadata: str, number: str) -> Block:
    """Close the loop: the need's outcome, and why unless it was fully met."""
    return {
        "type": "modal",
        "callback_id": CLOSE_MODAL,
        "private_metadata": metadata,
        "title": plain("Close the referral"),
        "submit": plain("Close"),
        "close": plain("Cancel"),
        "blocks": [
            text(f"How did *{number}* end for the client?"),
            {
                "type": "input",
                "block_id": NEED_OUTCOME_BLOCK,
                "label": plain("Need outcome"),
                "element": {
                    "type": "static_select",
                    "action_id": NEED_OUTCOME_BLOCK,
                    "placeholder": plain("Choose the outcome"),
                    "options": [{"text": plain(o.value), "value": o.value} for o in NeedOutcome],
                },
            },
            {
                "type": "input",
                "block_id": REASON_BLOCK,
                "optional": True,
                "label": plain("Why (unless fully met)"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": REASON_BLOCK,
                    "max_length": 2000,
                },
            },
        ],
    }


def note_modal(metadata: str, number: str) -> Block:
    """A note for the program's call log."""
    return {
        "type": "modal",
        "callback_id": NOTE_MODAL,
        "private_metadata": metadata,
        "title": plain("Add a note"),
        "submit": plain("Add"),
        "close": plain("Cancel"),
        "blocks": [
            text(f"A note on *{number}* for your program's call log."),
            {
                "type": "input",
                "block_id": NOTE_BLOCK,
                "label": plain("Note"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": NOTE_BLOCK,
                    "multiline": True,
                    "max_length": 2000,
                },
            },
        ],
    }


def notice_modal(title: str, message: str) -> Block:
    """What replaces a modal whose submission could not be applied."""
    return {
        "type": "modal",
        "title": plain(title),
        "close": plain("Close"),
        "blocks": [text(message)],
    }


def access_actions(request_id: int, *, block_id: str = ACTIONS_BLOCK) -> Block:
    """Approve / Deny on an access request; the value carries the request's number."""
    value = json.dumps({"r": request_id}, separators=(",", ":"))
    return {
        "type": "actions",
        "block_id": block_id,
        "elements": [
            {
                "type": "button",
                "action_id": APPROVE_ACCESS,
                "text": plain("Approve"),
                "style": "primary",
                "value": value,
            },
            {
                "type": "button",
                "action_id": DENY_ACCESS,
                "text": plain("Deny"),
                "style": "danger",
                "value": value,
            },
        ],
    }


def access_request_of(value: str | None) -> int:
    try:
        return int(json.loads(value or "")["r"])
    except (ValueError, KeyError, TypeError):
        raise InvalidInput(STALE_BUTTON, hint="Use /referral access pending instead.") from None


def reply(message: str, blocks: list[Block] | None = None) -> dict[str, Any]:
    """An ephemeral answer to the person who asked."""
    answer: dict[str, Any] = {"response_type": "ephemeral", "text": message}
    if blocks is not None:
        answer["blocks"] = blocks
    return answer
