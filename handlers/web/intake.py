"""Clients on the web: the search box, the new-client form with its duplicate step, a client's
page with consents and the consent form. Coordinators only; every search and read audited."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from bot.context import today
from bot.domain.permissions import Actor
from bot.domain.vocab import Channel, ConsentMethod
from bot.errors import InvalidInput, UserError
from bot.services import clients
from bot.services.clients import DuplicateClient
from handlers.web.deps import CurrentStaff, use_case
from handlers.web.form_errors import errors_of, split_list
from handlers.web.render import checked_form, page
from storage.models import Client

router = APIRouter()
NAV = ("Clients", "/clients")
WEB = Channel.WEB

CLIENT_FIELDS = (
    "first_name",
    "last_name",
    "birth_date",
    "gender",
    "county",
    "address",
    "phone",
    "external_id",
    "guardians",
)
CONSENT_FIELDS = (
    "programs",
    "info_types",
    "signed_by",
    "method",
    "signed_on",
    "reference",
)
# How each consent method is named to the person recording it.
METHODS = (
    (ConsentMethod.ELECTRONIC.value, "E-signature"),
    (ConsentMethod.TEXT_CODE.value, "Code by text message"),
    (ConsentMethod.UPLOADED_SCAN.value, "Paper form (scan reference)"),
)
INFO_TYPES = ("demographics", "contact information", "service needs", "assessments")


@router.get("/clients")
def search(request: Request, actor: CurrentStaff, q: str = "") -> Response:
    found = None
    errors: dict[str, str] = {}
    if q.strip():
        try:
            with use_case(request) as session:
                found = [
                    _row(c)
                    for c in clients.search_clients(session, actor=actor, text=q, channel=WEB)
                ]
        except UserError as exc:
            errors = errors_of(exc, ("q",))
    return page(
        request,
        "clients.html",
        status=422 if errors else 200,
        title="Clients",
        q=q,
        found=found,
        errors=errors,
    )


@router.get("/clients/new")
def new_form(request: Request, actor: CurrentStaff) -> Response:
    return page(request, "client_new.html", title="New client", values={}, errors={})


@router.post("/clients/new")
async def create(request: Request, actor: CurrentStaff) -> Response:
    form = await checked_form(request)
    values = {k: form.get(k, "") for k in CLIENT_FIELDS}
    different = [int(x) for x in split_list(form.get("different_from")) if x.isdigit()]
    data: dict[str, Any] = {k: v.strip() or None for k, v in values.items()}
    data["guardians"] = split_list(values["guardians"])
    data = {k: v for k, v in data.items() if v is not None}
    try:
        with use_case(request) as session:
            client_id = clients.create_client(
                session, actor=actor, data=data, channel=WEB, different_from=different
            ).id
    except DuplicateClient as exc:
        return page(
            request,
            "client_new.html",
            status=409,
            title="New client",
            values=values,
            errors={},
            matches=exc.matches,
            different_from=",".join(str(m.client_id) for m in exc.matches),
        )
    except UserError as exc:
        return page(
            request,
            "client_new.html",
            status=exc.status,
            title="New client",
            values=values,
            errors=errors_of(exc, CLIENT_FIELDS),
        )
    return RedirectResponse(f"/clients/{client_id}", status_code=303)


@router.get("/clients/{client_id}")
def client_page(request: Request, client_id: int, actor: CurrentStaff) -> Response:
    with use_case(request) as session:
        return _client_page(request, session, actor, client_id)


@router.post("/clients/{client_id}/consents")
async def record_consent(request: Request, client_id: int, actor: CurrentStaff) -> Response:
    form = await checked_form(request)
    values = {k: form.get(k, "") for k in CONSENT_FIELDS}
    values["info_types"] = ",".join(
        t for t in INFO_TYPES if form.get(f"info_{t.replace(' ', '_')}")
    ) or form.get("info_types", "")
    any_program = form.get("any_program") == "1"
    guardian = form.get("signer_is_guardian") == "1"
    try:
        with use_case(request) as session:
            clients.sign_consent(
                session,
                actor=actor,
                data={
                    "client_id": client_id,
                    "programs": split_list(values["programs"]),
                    "any_program": any_program,
                    "info_types": split_list(values["info_types"]),
                    "signed_by": values["signed_by"],
                    "signer_is_guardian": guardian,
                    "method": values["method"],
                    "signed_on": _date(values["signed_on"]),
                    "reference": values["reference"].strip() or None,
                },
                channel=WEB,
            )
    except UserError as exc:
        with use_case(request) as session:
            return _client_page(
                request,
                session,
                actor,
                client_id,
                status=exc.status,
                values={**values, "any_program": any_program, "signer_is_guardian": guardian},
                errors=errors_of(exc, CONSENT_FIELDS),
            )
    with use_case(request) as session:
        return _client_page(request, session, actor, client_id, notice="Consent recorded.")


def _date(text: str) -> date | None:
    text = text.strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            f'"{text}" is not a date.', field="signed_on", hint="Write it as YYYY-MM-DD."
        ) from None


def _client_page(
    request: Request,
    session: Session,
    actor: Actor,
    client_id: int,
    *,
    status: int = 200,
    **more: Any,
) -> Response:
    client = clients.view_client(session, actor=actor, client_id=client_id, channel=WEB)
    day = today(session)
    consents = [
        {
            "programs": "any participating program"
            if c.any_program
            else ", ".join(p.name for p in c.programs),
            "info_types": ", ".join(c.info_types),
            "signed_by": c.signed_by + (" (guardian)" if c.signer_is_guardian else ""),
            "method": dict(METHODS).get(c.method.value, c.method.value),
            "reference": c.reference,
            "signed_on": c.signed_on,
            "expires_on": c.expires_on,
            "active": c.active_on(day),
        }
        for c in client.consents
    ]
    more.setdefault("values", {})
    more.setdefault("errors", {})
    return page(
        request,
        "client.html",
        status=status,
        title=f"{client.first_name} {client.last_name}",
        client=_row(client),
        consents=consents,
        methods=METHODS,
        info_types=INFO_TYPES,
        **more,
    )


def _row(client: Client) -> dict[str, Any]:
    return {
        "id": client.id,
        "name": f"{client.first_name} {client.last_name}",
        "birth_date": client.birth_date,
        "county": client.county.name if client.county else None,
        "phone": client.phone,
        "address": client.address,
        "external_id": client.external_id,
        "guardians": ", ".join(client.guardians),
    }
