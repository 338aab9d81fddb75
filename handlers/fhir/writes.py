"""FHIR writes: referrals from an EHR (a transaction Bundle), Task status changes, REST-hooks."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Request
from sqlalchemy.orm import Session

from bot.domain.permissions import Actor
from bot.domain.vocab import Channel
from bot.interop.fhir import validated
from bot.services import fhir_hooks, fhir_intake
from handlers.api.deps import StaffId
from handlers.api.schemas import DbId
from handlers.fhir.common import FhirResponse, FhirRoute, run, systems_of

router = APIRouter(route_class=FhirRoute)

FhirBody = Annotated[dict[str, Any], Body(media_type="application/fhir+json")]


def _transaction(request: Request, staff_id: int, bundle: dict[str, Any]) -> FhirResponse:
    def create(session: Session, actor: Actor) -> dict[str, Any]:
        made = fhir_intake.create_from_bundle(
            session, actor=actor, bundle=bundle, channel=Channel.API
        )
        where = {
            "Patient": (
                f"Patient/{made.client.id}",
                "200 OK" if made.client_existed else "201 Created",
            ),
            "ServiceRequest": (f"ServiceRequest/{made.referral.id}", "201 Created"),
            "Task": (
                f"Task/{made.task.id}" if made.task else f"ServiceRequest/{made.referral.id}",
                "201 Created",
            ),
        }
        return validated(
            {
                "resourceType": "Bundle",
                "type": "transaction-response",
                "entry": [
                    {"response": {"status": where[kind][1], "location": where[kind][0]}}
                    for kind in made.order
                ],
            }
        )

    return run(request, staff_id, create)


def transaction(bundle: FhirBody, request: Request, staff_id: StaffId) -> FhirResponse:
    """A transaction Bundle (Task, ServiceRequest, Patient): the EHR's referral."""
    return _transaction(request, staff_id, bundle)


@router.post("/Task", response_class=FhirResponse)
def create_task(bundle: FhirBody, request: Request, staff_id: StaffId) -> FhirResponse:
    """The same transaction Bundle, posted at the Task endpoint."""
    return _transaction(request, staff_id, bundle)


@router.put("/Task/{task_id}", response_class=FhirResponse)
def update_task(
    task_id: Annotated[DbId, Path()], task: FhirBody, request: Request, staff_id: StaffId
) -> FhirResponse:
    """Change a Task's status (accepted, rejected, in-progress, on-hold, completed, failed,
    cancelled) as the IG's state machine allows; an illegal transition is refused."""
    return run(
        request,
        staff_id,
        lambda s, a: fhir_intake.update_task(
            s, actor=a, task_id=task_id, task=task, systems=systems_of(request), channel=Channel.API
        ),
    )


@router.post("/Subscription", response_class=FhirResponse)
def subscribe(subscription: FhirBody, request: Request, staff_id: StaffId) -> FhirResponse:
    """Register a REST-hook: told through the outbox when a Task you may see changes."""

    def create(session: Session, actor: Actor) -> dict[str, Any]:
        row = fhir_hooks.subscribe(
            session, actor=actor, subscription=subscription, channel=Channel.API
        )
        return fhir_hooks.as_resource(row, str(subscription.get("criteria")))

    return run(request, staff_id, create, status_code=201)


@router.delete("/Subscription/{subscription_id}", response_class=FhirResponse)
def unsubscribe(
    subscription_id: Annotated[DbId, Path()], request: Request, staff_id: StaffId
) -> FhirResponse:
    def end(session: Session, actor: Actor) -> dict[str, Any]:
        fhir_hooks.unsubscribe(
            session, actor=actor, subscription_id=subscription_id, channel=Channel.API
        )
        return validated(
            {
                "resourceType": "OperationOutcome",
                "issue": [
                    {
                        "severity": "information",
                        "code": "informational",
                        "diagnostics": f"Subscription {subscription_id} ended.",
                    }
                ],
            }
        )

    return run(request, staff_id, end)
