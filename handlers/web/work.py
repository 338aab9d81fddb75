"""The referral page's forms: each posts one work verb, read as every channel reads it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from bot.commands import (
    AddNote,
    Assign,
    Close,
    MarkPending,
    Republish,
    Respond,
    SetStatus,
    WorkCommand,
    parse,
)
from bot.domain.permissions import Actor
from bot.domain.vocab import Channel, DeclineReason, NeedOutcome, ProvisionReason, ServiceStatus
from bot.services.referral_page import referral_page
from bot.services.verbs import apply
from handlers.web.deps import CurrentStaff, use_case
from handlers.web.render import checked_form, page

router = APIRouter()
Form = dict[str, str]


def _given(form: Form, name: str) -> str | None:
    return form.get(name, "").strip() or None


def _assign(number: str, form: Form) -> Assign:
    provider = form.get("provider", "").strip()
    return parse(
        Assign,
        {
            "number": number,
            "provider": int(provider) if provider.isdigit() else provider,
            "reassign": form.get("reassign") == "1",
            "program": _given(form, "program"),
        },
    )


def _respond(number: str, form: Form) -> Respond:
    kind = form.get("response", "")
    # One select per kind of reason: the one of the chosen response counts.
    reason = _given(form, f"reason_{kind}") if kind in ("tentative", "decline") else None
    return parse(
        Respond,
        {
            "number": number,
            "kind": kind,
            "reason": reason if reason is not None else _given(form, "reason"),
            "comment": _given(form, "comment"),
            "program": _given(form, "program"),
        },
    )


def _status(number: str, form: Form) -> SetStatus:
    data = {"number": number, "status": form.get("status", ""), "program": _given(form, "program")}
    return parse(SetStatus, data)


def _note(number: str, form: Form) -> AddNote:
    data = {
        "number": number,
        "text": form.get("text", "").strip(),
        "program": _given(form, "program"),
    }
    return parse(AddNote, data)


def _close(number: str, form: Form) -> Close:
    data = {"number": number, "outcome": form.get("outcome", ""), "reason": _given(form, "reason")}
    return parse(Close, data)


FORMS: dict[str, Callable[[str, Form], WorkCommand]] = {
    "assign": _assign,
    "respond": _respond,
    "status": _status,
    "notes": _note,
    "pending": lambda number, form: MarkPending(number=number),
    "close": _close,
    "republish": lambda number, form: Republish(number=number),
}


def command_of_form(action: str, number: str, form: Form) -> WorkCommand:
    """The work verb a referral page form posts to /referrals/NUMBER/ACTION."""
    return FORMS[action](number, form)


def _form_route(action: str) -> Callable[..., Awaitable[Response]]:
    async def act(request: Request, number: str, actor: CurrentStaff) -> Response:
        form = await checked_form(request)
        command = command_of_form(action, number, form)
        with use_case(request) as session:
            applied = apply(session, actor=actor, command=command, channel=Channel.WEB)
        with use_case(request) as session:
            return referral_response(request, session, actor, applied.number, notice=applied.answer)

    return act


# One route per form (not /referrals/{number}/{anything}), so other pages' POST routes under a
# referral stay theirs.
for _action in FORMS:
    router.post(f"/referrals/{{number}}/{_action}", name=f"referral_{_action}")(
        _form_route(_action)
    )


def referral_response(
    request: Request, session: Session, actor: Actor, number: str, **context: Any
) -> Response:
    shown = referral_page(session, actor=actor, number=number)
    # Rendered inside the transaction: the page reads each program's history as it goes.
    return page(
        request,
        "referral.html",
        title=shown.referral.number,
        shown=shown,
        choices=CHOICES,
        **context,
    )


CHOICES = {
    "provision": [c.value for c in ProvisionReason],
    "decline": [c.value for c in DeclineReason],
    "status": [c.value for c in ServiceStatus],
    "outcome": [c.value for c in NeedOutcome],
}
