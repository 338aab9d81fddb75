"""The referring side on the web: the referral form, the recipient preview with publish,
edit and re-publish, delete with a reason (coordinators). The preview page's Close form posts
to the referral page's close verb (handlers/web/work.py)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.domain.permissions import Actor
from bot.domain.vocab import Channel, NeedOutcome, ReferralState, Urgency
from bot.errors import UserError
from bot.services import clients, referrals
from bot.services.lookup import visible_referral
from bot.services.preview import preview_referral
from bot.services.revise import revise_referral
from handlers.web.deps import CurrentStaff, use_case
from handlers.web.form_errors import errors_of, split_list
from handlers.web.render import checked_form, page
from storage.models import Referral, ServiceCode

router = APIRouter()
WEB = Channel.WEB

REFERRAL_FIELDS = (
    "needs",
    "urgency",
    "counties",
    "statewide",
    "exclude_programs",
    "facility_code",
    "primary_coordinator",
    "summary",
)
PREVIEW_FIELDS = ("confirm_no_capacity", "reason")
DONE = {
    "created": "Draft saved. Check who will receive it, then publish.",
    "published": "Published.",
    "deleted": "Deleted.",
}


# --- the referral form -------------------------------------------------------------------------


@router.get("/clients/{client_id}/refer")
def new_referral(request: Request, client_id: int, actor: CurrentStaff) -> Response:
    with use_case(request) as session:
        return _form(request, session, actor, client_id=client_id, values={"urgency": "routine"})


@router.post("/clients/{client_id}/refer")
async def create_referral(request: Request, client_id: int, actor: CurrentStaff) -> Response:
    form = await checked_form(request)
    values = _values(form)
    try:
        with use_case(request) as session:
            number = referrals.create_referral(
                session,
                actor=actor,
                draft={
                    "client_id": client_id,
                    "facility_code": values["facility_code"],
                    "urgency": values["urgency"] or "routine",
                    "needs": values["needs"],
                    "statewide": values["statewide"],
                    "counties": [] if values["statewide"] else split_list(values["counties"]),
                    "exclude_programs": split_list(values["exclude_programs"]),
                    "primary_coordinator": values["primary_coordinator"] or None,
                    "summary": values["summary"] or None,
                },
                channel=WEB,
            ).number
    except UserError as exc:
        with use_case(request) as session:
            return _form(
                request,
                session,
                actor,
                client_id=client_id,
                values=values,
                errors=errors_of(exc, REFERRAL_FIELDS),
                status=exc.status,
            )
    return RedirectResponse(f"/referrals/{number}/preview?done=created", status_code=303)


@router.get("/referrals/{number}/edit")
def edit_form(request: Request, number: str, actor: CurrentStaff) -> Response:
    with use_case(request) as session:
        referral = visible_referral(session, actor, number)
        values = {
            "needs": list(referral.needs),
            "urgency": referral.urgency.value,
            "statewide": referral.statewide,
            "counties": ", ".join(c.name for c in referral.counties),
            "exclude_programs": ", ".join(p.key for p in referral.exclusions),
        }
        return _form(request, session, actor, referral=referral, values=values)


@router.post("/referrals/{number}/edit")
async def edit(request: Request, number: str, actor: CurrentStaff) -> Response:
    form = await checked_form(request)
    values = _values(form)
    try:
        with use_case(request) as session:
            revision = revise_referral(
                session,
                actor=actor,
                number=number,
                edit={
                    "urgency": values["urgency"] or None,
                    "needs": values["needs"],
                    "statewide": values["statewide"],
                    "counties": [] if values["statewide"] else split_list(values["counties"]),
                    "exclude_programs": split_list(values["exclude_programs"]),
                },
                channel=WEB,
                confirm_no_capacity=form.get("confirm_no_capacity") == "1",
            )
    except UserError as exc:
        with use_case(request) as session:
            referral = visible_referral(session, actor, number)
            return _form(
                request,
                session,
                actor,
                referral=referral,
                values=values,
                errors=errors_of(exc, (*REFERRAL_FIELDS, "confirm_no_capacity")),
                status=exc.status,
            )
    notice = "Saved."
    if revision.published is not None:
        result = revision.published
        notice = f"Saved and re-published to {len(result.programs)} program(s)."
        if result.joined:
            notice += f" Newly receiving: {', '.join(result.joined)}."
        if result.left:
            notice += f" No longer receiving: {', '.join(result.left)}."
    with use_case(request) as session:
        return _preview_page(request, session, actor, number, notice=notice)


def _values(form: dict[str, str]) -> dict[str, Any]:
    return {
        "needs": [k.removeprefix("need_") for k in form if k.startswith("need_")],
        "urgency": form.get("urgency", ""),
        "statewide": form.get("statewide") == "1",
        "counties": form.get("counties", ""),
        "exclude_programs": form.get("exclude_programs", ""),
        "facility_code": form.get("facility_code", "").strip(),
        "primary_coordinator": form.get("primary_coordinator", "").strip(),
        "summary": form.get("summary", "").strip(),
    }


def _form(
    request: Request,
    session: Session,
    actor: Actor,
    *,
    values: dict[str, Any],
    client_id: int | None = None,
    referral: Referral | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    if referral is None:
        assert client_id is not None
        client = clients.view_client(session, actor=actor, client_id=client_id, channel=WEB)
        who = f"{client.first_name} {client.last_name}"
        title = f"New referral for {who}"
        action = f"/clients/{client_id}/refer"
    else:
        title = f"Edit {referral.number}"
        action = f"/referrals/{referral.number}/edit"
    services = session.execute(
        select(ServiceCode.code, ServiceCode.name).order_by(ServiceCode.code)
    )
    return page(
        request,
        "referral_form.html",
        status=status,
        title=title,
        action=action,
        editing=referral is not None,
        is_open=referral is not None and referral.state != ReferralState.DRAFT,
        services=list(services),
        urgencies=[u.value for u in Urgency],
        values=values,
        errors=errors or {},
    )


# --- preview, publish, delete, close -----------------------------------------------------------


@router.get("/referrals/{number}/preview")
def preview(request: Request, number: str, actor: CurrentStaff, done: str = "") -> Response:
    with use_case(request) as session:
        return _preview_page(request, session, actor, number, notice=DONE.get(done))


@router.post("/referrals/{number}/publish")
async def publish(request: Request, number: str, actor: CurrentStaff) -> Response:
    form = await checked_form(request)
    return await _act(
        request,
        actor,
        number,
        "published",
        lambda s: referrals.publish_referral(
            s,
            actor=actor,
            number=number,
            channel=WEB,
            confirm_no_capacity=form.get("confirm_no_capacity") == "1",
        ),
    )


@router.post("/referrals/{number}/delete")
async def delete(request: Request, number: str, actor: CurrentStaff) -> Response:
    form = await checked_form(request)
    return await _act(
        request,
        actor,
        number,
        "deleted",
        lambda s: referrals.delete_referral(
            s, actor=actor, number=number, channel=WEB, reason=form.get("reason", "")
        ),
        typed={"reason": form.get("reason", "")},
    )


async def _act(
    request: Request,
    actor: Actor,
    number: str,
    done: str,
    run: Any,
    typed: dict[str, str] | None = None,
) -> Response:
    try:
        with use_case(request) as session:
            run(session)
    except UserError as exc:
        errors = errors_of(exc, PREVIEW_FIELDS)
        with use_case(request) as session:
            return _preview_page(
                request,
                session,
                actor,
                number,
                errors=errors,
                typed=typed or {},
                status=exc.status,
            )
    return RedirectResponse(f"/referrals/{number}/preview?done={done}", status_code=303)


def _preview_page(
    request: Request,
    session: Session,
    actor: Actor,
    number: str,
    *,
    notice: str | None = None,
    errors: dict[str, str] | None = None,
    typed: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    referral = visible_referral(session, actor, number)
    shown = preview_referral(session, actor=actor, number=number)
    return page(
        request,
        "referral_preview.html",
        status=status,
        title=f"{referral.number}: recipients",
        referral=referral,
        state=referral.state.value,
        counties=", ".join(c.name for c in referral.counties) or "statewide",
        preview=shown,
        notice=notice,
        errors=errors or {},
        typed=typed or {},
        outcomes=[o.value for o in NeedOutcome],
    )
