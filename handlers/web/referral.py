"""One referral's page: details for people with a role on it, responses, notes, audit trail."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from bot.services.referral_page import referral_page
from handlers.web.deps import CurrentStaff, use_case
from handlers.web.render import page

router = APIRouter()


@router.get("/referrals/{number}")
def referral(request: Request, number: str, actor: CurrentStaff) -> Response:
    with use_case(request) as session:
        shown = referral_page(session, actor=actor, number=number)
        # Rendered inside the transaction: the page reads each program's history as it goes.
        return page(request, "referral.html", title=shown.referral.number, shown=shown)
