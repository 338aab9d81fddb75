"""One referral's page: details for people with a role on it, responses, notes, audit trail,
and the forms of what the person may do (handlers/web/work.py)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from handlers.web.deps import CurrentStaff, use_case
from handlers.web.work import referral_response

router = APIRouter()


@router.get("/referrals/{number}")
def referral(request: Request, number: str, actor: CurrentStaff) -> Response:
    with use_case(request) as session:
        return referral_response(request, session, actor, number)
