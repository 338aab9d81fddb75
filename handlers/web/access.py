"""Access on the web: ask for a role; a security officer decides, revokes and reviews roles."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.domain.permissions import Actor
from bot.domain.vocab import Channel, Role
from bot.services import access
from handlers.web.deps import CurrentStaff, use_case
from handlers.web.render import checked_form, page
from storage.models import Agency

router = APIRouter()
NAV = ("Access", "/access")
WEB = Channel.WEB
REQUESTABLE = (("provider", "provider"), ("gatekeeper", "gatekeeper"))


@router.get("/access")
def access_page(request: Request, actor: CurrentStaff) -> Response:
    with use_case(request) as session:
        return _page(request, session, actor)


@router.post("/access/requests")
async def ask(request: Request, actor: CurrentStaff) -> Response:
    form = await checked_form(request)
    with use_case(request) as session:
        result = access.request_access(
            session,
            actor=actor,
            role=form.get("role", ""),
            program=form.get("program", ""),
            channel=WEB,
        )
    with use_case(request) as session:
        return _page(request, session, actor, notice=result.summary)


@router.post("/access/requests/{request_id}")
async def decide(request: Request, request_id: int, actor: CurrentStaff) -> Response:
    form = await checked_form(request)
    with use_case(request) as session:
        result = access.decide_access_request(
            session,
            actor=actor,
            request_id=request_id,
            approve=form.get("decision") == "approve",
            channel=WEB,
            note=form.get("note", "").strip() or None,
        )
    with use_case(request) as session:
        return _page(request, session, actor, notice=result.summary)


@router.post("/access/revoke")
async def revoke(request: Request, actor: CurrentStaff) -> Response:
    form = await checked_form(request)
    with use_case(request) as session:
        result = access.revoke_access(
            session,
            actor=actor,
            staff_email=form.get("email", ""),
            channel=WEB,
            reason=form.get("reason", "").strip() or None,
        )
    with use_case(request) as session:
        return _page(request, session, actor, notice=result.summary)


@router.get("/access/roles")
def roles(request: Request, actor: CurrentStaff, agency: str = "") -> Response:
    with use_case(request) as session:
        key = agency.strip() or _own_agency_key(session, actor) or ""
        rows = access.agency_roles(session, actor=actor, agency=key)
        return page(request, "access_roles.html", title="Roles", agency=key, rows=rows)


def _page(request: Request, session: Session, actor: Actor, **context: Any) -> Response:
    officer = actor.has(Role.SECURITY_OFFICER)
    pending = access.pending_access_requests(session, actor=actor) if officer else []
    return page(
        request,
        "access.html",
        title="Access",
        roles=REQUESTABLE,
        officer=officer,
        pending=pending,
        own_agency=_own_agency_key(session, actor),
        **context,
    )


def _own_agency_key(session: Session, actor: Actor) -> str | None:
    if actor.agency_id is None:
        return None
    return session.scalar(select(Agency.key).where(Agency.id == actor.agency_id))
