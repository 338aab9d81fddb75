"""Agreements on the web: a person signs the yearly user MOU; an admin renews agency MOUs."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select

from bot.context import today
from bot.domain.agreements import agency_mou_ends, agency_mou_valid
from bot.domain.vocab import Channel
from bot.errors import Forbidden, InvalidInput
from bot.services import agreements
from bot.services.sign_in import session_staff
from handlers.web.deps import CurrentStaff, use_case
from handlers.web.render import SESSION_COOKIE, checked_form, page
from storage.models import Agency, Staff

router = APIRouter()
NAV = ("Agreement", "/agreement")


def _staff_id(request: Request) -> int:
    with use_case(request) as session:
        staff = session_staff(session, cookie=request.cookies.get(SESSION_COOKIE))
        request.state.staff_name = staff.name
        return staff.id


def _agreement_page(request: Request, staff_id: int, *, notice: str | None = None) -> Response:
    with use_case(request) as session:
        staff = session.get(Staff, staff_id)
        assert staff is not None
        shown = agreements.user_mou_of(session, staff)
        return page(
            request,
            "agreement.html",
            title="User agreement",
            mou=shown,
            lapsed=shown.valid_until is None or shown.valid_until < today(session),
            notice=notice,
        )


@router.get("/agreement")
def agreement(request: Request) -> Response:
    # Reachable with a lapsed user MOU (every other page refuses it): this is where it is signed.
    return _agreement_page(request, _staff_id(request))


@router.post("/agreement")
async def sign(request: Request) -> Response:
    await checked_form(request)
    staff_id = _staff_id(request)
    with use_case(request) as session:
        signed = agreements.sign_user_mou(session, staff_id=staff_id, channel=Channel.WEB)
    return _agreement_page(
        request,
        staff_id,
        notice=f"Signed. Your user agreement is valid until {signed.valid_until}.",
    )


@router.get("/agencies")
def agencies(request: Request, actor: CurrentStaff, notice: str | None = None) -> Response:
    if not actor.is_admin:
        raise Forbidden("Only network admins manage agency MOUs.")
    with use_case(request) as session:
        day = today(session)
        rows = [
            {
                "key": a.key,
                "name": a.name,
                "signed_on": a.mou_signed_on,
                "valid_until": agency_mou_ends(a.mou_signed_on, a.mou_expires_on),
                "valid": agency_mou_valid(a.mou_signed_on, a.mou_expires_on, day),
            }
            for a in session.scalars(select(Agency).order_by(Agency.name))
        ]
        return page(
            request, "agencies.html", title="Agency MOUs", rows=rows, today=day, notice=notice
        )


@router.post("/agencies/{key}/mou")
async def renew(request: Request, key: str, actor: CurrentStaff) -> Response:
    form = await checked_form(request)
    signed_on = _date(form.get("signed_on", ""), "signed_on")
    expires_on = _date(form.get("expires_on", ""), "expires_on")
    with use_case(request) as session:
        renewed = agreements.renew_agency_mou(
            session,
            actor=actor,
            agency_key=key,
            signed_on=signed_on,
            expires_on=expires_on,
            channel=Channel.WEB,
        )
    notice = (
        f"{renewed.agency}'s MOU is valid until {renewed.valid_until}; "
        f"{renewed.joined} open referral(s) reached its programs."
    )
    return agencies(request, actor, notice=notice)


def _date(text: str, field: str) -> date | None:
    if not text.strip():
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(f"{text!r} is not a date like 2027-03-01.", field=field) from None
