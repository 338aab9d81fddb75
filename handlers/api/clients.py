"""Clients and consents over the API: create (duplicates refused), sign, revoke."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse

from bot.commands import NewClient
from bot.domain.vocab import Channel
from bot.services import clients
from bot.services.clients import DuplicateClient
from handlers.api.deps import StaffId, acting
from handlers.api.schemas import ClientOut, ConsentIn, ConsentOut, DbId, DuplicateClientOut

router = APIRouter(tags=["clients"])


@router.post(
    "/clients",
    status_code=201,
    response_model=ClientOut,
    responses={409: {"model": DuplicateClientOut, "description": "The client already exists."}},
)
def create_client(body: NewClient, request: Request, staff_id: StaffId) -> ClientOut | JSONResponse:
    """Create a client, unless the same person is already known (then 409 names the match)."""
    try:
        with acting(request, staff_id) as (session, actor):
            client = clients.create_client(session, actor=actor, data=body, channel=Channel.API)
            return ClientOut.of(client)
    except DuplicateClient as exc:
        out = DuplicateClientOut(
            error=exc.message, field=exc.field, hint=exc.hint, match_id=exc.match_id
        )
        return JSONResponse(out.model_dump(), status_code=exc.status)


@router.post("/consents", status_code=201, response_model=ConsentOut)
def sign_consent(body: ConsentIn, request: Request, staff_id: StaffId) -> ConsentOut:
    """Record a signed release of information (valid for a year)."""
    with acting(request, staff_id) as (session, actor):
        consent = clients.sign_consent(session, actor=actor, data=body, channel=Channel.API)
        return ConsentOut.of(consent)


@router.post("/consents/{consent_id}/revoke", response_model=ConsentOut)
def revoke_consent(
    consent_id: Annotated[DbId, Path()], request: Request, staff_id: StaffId
) -> ConsentOut:
    with acting(request, staff_id) as (session, actor):
        consent = clients.revoke_consent(
            session, actor=actor, consent_id=consent_id, channel=Channel.API
        )
        return ConsentOut.of(consent)
