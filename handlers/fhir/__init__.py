"""HL7 FHIR R4 under /fhir: referrals as SDOH Clinical Care Tasks, for EHRs (handlers thin)."""

from __future__ import annotations

from fastapi import APIRouter

from handlers.fhir import reads, writes
from handlers.fhir.common import FhirRoute


def fhir_router() -> APIRouter:
    # Not in /openapi.json: FHIR clients read /fhir/metadata, and the bodies are FHIR resources.
    router = APIRouter(
        prefix="/fhir", tags=["fhir"], include_in_schema=False, route_class=FhirRoute
    )
    router.include_router(reads.router)
    router.include_router(writes.router)
    # A FHIR transaction is posted at the base itself.
    router.add_api_route(
        "", writes.transaction, methods=["POST"], response_class=writes.FhirResponse
    )
    return router
