"""The REST API under /api/v1: bearer tokens, one use case per endpoint."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from handlers.api import clients, programs, referrals, referring, work
from handlers.api.schemas import ErrorOut, UnauthorizedOut, UnprocessableOut

PREFIX = "/api/v1"

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": UnauthorizedOut, "description": "No token, or not a live one."},
    403: {"model": ErrorOut, "description": "Your roles do not allow this."},
    404: {"model": ErrorOut, "description": "No such thing that you can see."},
    409: {"model": ErrorOut, "description": "Refused in the current state."},
    422: {"model": UnprocessableOut, "description": "Malformed input, or a value refused."},
}


def api_router() -> APIRouter:
    router = APIRouter(prefix=PREFIX, responses=ERRORS)
    for module in (clients, referrals, work, programs, referring):
        router.include_router(module.router)
    return router
