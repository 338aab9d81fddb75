"""The programs page: lookup by service and county with capacity, suspension and MOU state;
a gatekeeper sets their program's capacity here."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.domain.capacity import CapacityStatus
from bot.domain.permissions import Actor
from bot.domain.vocab import Channel, Role
from bot.errors import InvalidInput, UserError
from bot.services import programs
from handlers.web.deps import CurrentStaff, use_case
from handlers.web.form_errors import errors_of
from handlers.web.render import checked_form, page
from storage.models import Program, ServiceCode

router = APIRouter()
NAV = ("Programs", "/programs")
CAPACITY_FIELDS = ("status", "waitlist", "until", "program")


@router.get("/programs")
def listing(request: Request, actor: CurrentStaff, need: str = "", county: str = "") -> Response:
    with use_case(request) as session:
        return _page(request, session, actor, need=need, county=county)


@router.post("/programs/{key}/capacity")
async def set_capacity(request: Request, key: str, actor: CurrentStaff) -> Response:
    form = await checked_form(request)
    typed = {k: form.get(k, "") for k in ("status", "waitlist", "until")}
    try:
        with use_case(request) as session:
            result = programs.set_capacity(
                session,
                actor=actor,
                program=key,
                change={
                    "status": typed["status"],
                    "waitlist": _number(typed["waitlist"]),
                    "until": _day(typed["until"]),
                },
                channel=Channel.WEB,
            )
    except UserError as exc:
        with use_case(request) as session:
            return _page(
                request,
                session,
                actor,
                status=exc.status,
                editing=key,
                typed=typed,
                errors=errors_of(exc, CAPACITY_FIELDS),
            )
    with use_case(request) as session:
        return _page(request, session, actor, notice=result.summary)


def _number(text: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    if not text.isdigit():
        raise InvalidInput(f'"{text}" is not a number of people.', field="waitlist")
    return int(text)


def _day(text: str) -> date | None:
    text = text.strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f'"{text}" is not a date.', field="until") from None


def _page(
    request: Request,
    session: Session,
    actor: Actor,
    *,
    need: str = "",
    county: str = "",
    status: int = 200,
    **more: Any,
) -> Response:
    errors: dict[str, str] = more.pop("errors", {})
    try:
        found = programs.find_programs(
            session, actor=actor, need=need or None, county=county or None
        )
    except UserError as exc:
        found, status = [], exc.status
        errors = errors_of(exc, ("need", "county"))
    gatekeeping = set(
        session.scalars(select(Program.key).where(Program.id.in_(actor.programs(Role.GATEKEEPER))))
    )
    services = list(session.execute(select(ServiceCode.code, ServiceCode.name).order_by("code")))
    return page(
        request,
        "programs.html",
        status=status,
        title="Programs",
        found=found,
        need=need,
        county=county,
        services=services,
        may_set=lambda key: actor.is_admin or key in gatekeeping,
        statuses=[s.value for s in CapacityStatus],
        errors=errors,
        typed=more.pop("typed", {}),
        editing=more.pop("editing", None),
        **more,
    )
