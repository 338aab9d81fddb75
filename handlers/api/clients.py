"""Clients and consents over the API: search, create (likely duplicates answered with the
fields that matched), read, sign a consent, revoke it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse

from bot.domain.vocab import Channel
from bot.services import clients
from bot.services.clients import DuplicateClient
from handlers.api.deps import StaffId, acting
from handlers.api.schemas import (
    ClientIn,
    ClientMatchOut,
    ClientOut,
    ConsentIn,
    ConsentOut,
    DbId,
    DuplicateClientOut,
)

router = APIRouter(tags=["clients"])


@router.get("/clients", response_model=list[ClientOut])
def search_clients(
    request: Request,
    staff_id: StaffId,
    q: Annotated[str, Query(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f]*$")],
) -> list[ClientOut]:
    """Clients by name, date of birth, phone or external id (at most 20); for coordinators,
    audited."""
    with acting(request, staff_id) as (session, actor):
        found = clients.search_clients(session, actor=actor, text=q, channel=Channel.API)
        return [ClientOut.of(c) for c in found]


@router.get("/clients/{client_id}", response_model=ClientOut)
def view_client(
    client_id: Annotated[DbId, Path()], request: Request, staff_id: StaffId
) -> ClientOut:
    """One client's details, for a coordinator (the read is audited)."""
    with acting(request, staff_id) as (session, actor):
        client = clients.view_client(session, actor=actor, client_id=client_id, channel=Channel.API)
        return ClientOut.of(client)


@router.post(
    "/clients",
    status_code=201,
    response_model=ClientOut,
    responses={409: {"model": DuplicateClientOut, "description": "Likely already known."}},
)
def create_client(body: ClientIn, request: Request, staff_id: StaffId) -> ClientOut | JSONResponse:
    """Create a client, unless likely already known: 409 lists the likely matches with the
    fields that matched. Send their ids in `different_from` to create a different person."""
    try:
        with acting(request, staff_id) as (session, actor):
            client = clients.create_client(
                session,
                actor=actor,
                data=body.model_dump(exclude={"different_from"}),
                channel=Channel.API,
                different_from=body.different_from,
            )
            return ClientOut.of(client)
    except DuplicateClient as exc:
        out = DuplicateClientOut(
            error=exc.message,
            field=exc.field,
            hint=exc.hint,
            match_id=exc.match_id,
            matches=[ClientMatchOut.model_validate(m) for m in exc.matches],
        )
        return JSONResponse(out.model_dump(mode="json"), status_code=exc.status)


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
