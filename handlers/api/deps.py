"""Who is calling: the bearer token resolved to a staff member, then to an Actor per use case."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker

from bot.actors import actor_for
from bot.domain.permissions import Actor
from handlers.api.tokens import removed_staff_for_token, staff_for_token
from storage.db import transaction
from storage.models import Staff

bearer = HTTPBearer(
    auto_error=False,
    description="A token printed by `closeloop token create --staff EMAIL`.",
)

NO_TOKEN = "Send a token: Authorization: Bearer <token>."
BAD_TOKEN = "That token is not valid (unknown or revoked)."


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(status_code=401, detail=message, headers={"WWW-Authenticate": "Bearer"})


def sessions_of(request: Request) -> sessionmaker[Session]:
    sessions: sessionmaker[Session] = request.app.state.runtime.sessions
    return sessions


def authenticated_staff_id(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> int:
    """The id of the staff member whose live token was sent; 401 otherwise."""
    if credentials is None:
        raise _unauthorized(NO_TOKEN)
    with transaction(sessions_of(request)) as session:
        staff = staff_for_token(session, credentials.credentials)
        if staff is None:
            removed = removed_staff_for_token(session, credentials.credentials)
            if removed is not None:
                actor_for(session, removed)  # refuses, naming the day access was removed
            raise _unauthorized(BAD_TOKEN)
        return staff.id


StaffId = Annotated[int, Depends(authenticated_staff_id)]


@contextmanager
def acting(request: Request, staff_id: int) -> Iterator[tuple[Session, Actor]]:
    """One use case's transaction and the caller as an Actor, checked now: access revoked
    since the token was issued (an inactive account, a lapsed user MOU) is refused at once."""
    with transaction(sessions_of(request)) as session:
        staff = session.get(Staff, staff_id)
        if staff is None:  # pragma: no cover - staff rows are deactivated, not deleted
            raise _unauthorized(BAD_TOKEN)
        yield session, actor_for(session, staff)
