"""What every FHIR endpoint shares: the caller's transaction, errors as OperationOutcome."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session

from bot.domain.fhir_task import IllegalTransition
from bot.domain.permissions import Actor
from bot.errors import Conflict, Forbidden, InvalidInput, NotFound, UserError
from bot.interop.fhir import Systems, operation_outcome
from handlers.api.deps import acting

FHIR_JSON = "application/fhir+json"

ISSUE_CODES: list[tuple[type[UserError], str]] = [
    (IllegalTransition, "business-rule"),
    (NotFound, "not-found"),
    (Forbidden, "forbidden"),
    (InvalidInput, "invalid"),
    (Conflict, "conflict"),
]


class FhirResponse(JSONResponse):
    media_type = FHIR_JSON


def systems_of(request: Request) -> Systems:
    return Systems(request.app.state.runtime.settings.public_url)


def base_of(request: Request) -> str:
    return systems_of(request).base


def outcome_for(exc: UserError) -> FhirResponse:
    code = next((c for kind, c in ISSUE_CODES if isinstance(exc, kind)), "processing")
    text = exc.message + (f" {exc.hint}" if exc.hint else "")
    return FhirResponse(operation_outcome(code, text, exc.field), status_code=exc.status)


def run(
    request: Request,
    staff_id: int,
    use_case: Callable[[Session, Actor], dict[str, Any]],
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> FhirResponse:
    """One use case in the caller's transaction; a refusal rolls it back and is answered as an
    OperationOutcome naming what was refused."""
    try:
        with acting(request, staff_id) as (session, actor):
            body = use_case(session, actor)
    except UserError as exc:
        return outcome_for(exc)
    return FhirResponse(body, status_code=status_code, headers=headers)


class FhirRoute(APIRoute):
    """A /fhir route: what FastAPI itself refuses (no token, a malformed id or body) is answered
    as an OperationOutcome too, so a FHIR client reads every error the same way."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def fhir_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except HTTPException as exc:
                code = {401: "login", 403: "forbidden", 404: "not-found"}.get(
                    exc.status_code, "processing"
                )
                return FhirResponse(
                    operation_outcome(code, str(exc.detail)),
                    status_code=exc.status_code,
                    headers=exc.headers,
                )
            except RequestValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first.get("loc", ()))
                return FhirResponse(
                    operation_outcome("invalid", f"{where}: {first.get('msg')}", where),
                    status_code=422,
                )

        return fhir_handler
