"""FHIR reads: Task (read and search), ServiceRequest, Patient, and the CapabilityStatement."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from bot.context import now
from bot.domain.vocab import Channel
from bot.interop.fhir import capability_statement, searchset
from bot.services import fhir as use
from handlers.api.deps import StaffId, sessions_of
from handlers.api.schemas import DbId
from handlers.fhir.common import FhirResponse, FhirRoute, base_of, run, systems_of
from storage.db import transaction

router = APIRouter(route_class=FhirRoute)


@router.get("/metadata", response_class=FhirResponse)
def metadata(request: Request) -> FhirResponse:
    """The CapabilityStatement: what this server offers (no token needed, as FHIR expects)."""
    with transaction(sessions_of(request)) as session:
        moment = now(session)
    return FhirResponse(capability_statement(base_of(request), moment))


@router.get("/Task/{task_id}", response_class=FhirResponse)
def read_task(
    task_id: Annotated[DbId, Path()], request: Request, staff_id: StaffId
) -> FhirResponse:
    return run(
        request,
        staff_id,
        lambda s, a: use.read_task(
            s, actor=a, task_id=task_id, systems=systems_of(request), channel=Channel.API
        ),
    )


@router.get("/Task", response_class=FhirResponse)
def search_tasks(
    request: Request,
    staff_id: StaffId,
    owner: str | None = None,
    status: Annotated[list[str] | None, Query()] = None,
    last_updated: Annotated[list[str] | None, Query(alias="_lastUpdated")] = None,
    count: Annotated[int, Query(alias="_count", ge=1, le=use.MAX_COUNT)] = 50,
) -> FhirResponse:
    def search(session, actor):  # type: ignore[no-untyped-def]
        found = use.search_tasks(
            session,
            actor=actor,
            systems=systems_of(request),
            channel=Channel.API,
            owner=owner,
            status=status,
            last_updated=last_updated,
            count=count,
        )
        return searchset(found, base_of(request), str(request.url))

    return run(request, staff_id, search)


@router.get("/ServiceRequest/{referral_id}", response_class=FhirResponse)
def read_service_request(
    referral_id: Annotated[DbId, Path()], request: Request, staff_id: StaffId
) -> FhirResponse:
    return run(
        request,
        staff_id,
        lambda s, a: use.read_service_request(
            s, actor=a, referral_id=referral_id, systems=systems_of(request), channel=Channel.API
        ),
    )


@router.get("/Patient/{client_id}", response_class=FhirResponse)
def read_patient(
    client_id: Annotated[DbId, Path()], request: Request, staff_id: StaffId
) -> FhirResponse:
    return run(
        request,
        staff_id,
        lambda s, a: use.read_patient(
            s, actor=a, client_id=client_id, systems=systems_of(request), channel=Channel.API
        ),
    )
