"""Who is signed in: the session cookie re-checked on every request, like every channel's actor."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from bot.domain.permissions import Actor
from bot.services.sign_in import session_actor
from handlers.web.render import SESSION_COOKIE
from storage.db import transaction


def mark_web(request: Request) -> None:
    """Errors on these routes are answered as pages, not JSON (see bot/app.py)."""
    request.state.web = True


def sessions_of(request: Request) -> sessionmaker[Session]:
    sessions: sessionmaker[Session] = request.app.state.runtime.sessions
    return sessions


def current_staff(request: Request) -> Actor:
    """The signed-in person, checked now: signed out, an inactive account or a lapsed user MOU
    is refused on this very request (bot.actors.actor_for, as on every channel)."""
    with transaction(sessions_of(request)) as session:
        actor = session_actor(session, cookie=request.cookies.get(SESSION_COOKIE))
    request.state.staff_name = actor.name
    return actor


CurrentStaff = Annotated[Actor, Depends(current_staff)]


@contextmanager
def use_case(request: Request) -> Iterator[Session]:
    """One page's transaction (render inside it: templates may load related rows)."""
    with transaction(sessions_of(request)) as session:
        yield session
