"""FHIR in: an EHR's referral (a transaction Bundle of Task, ServiceRequest and Patient) becomes
a client and a published referral; a Task status change goes through the IG's state machine to
the same use cases as Slack and email."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.domain.fhir_task import URGENCY, IllegalTransition, check_task_transition
from bot.domain.permissions import Actor
from bot.domain.vocab import FHIR_TASK_STATUS, Channel, ServiceStatus, Urgency, match_choice
from bot.errors import Conflict, InvalidInput
from bot.interop import fhir
from bot.interop.fhir import MODELS, Systems
from bot.services import clients, referrals, work
from bot.services.clients import DuplicateClient
from bot.services.fhir import visible_task
from bot.services.preview import NoRecipients
from storage.models import Client, Program, Recipient, Referral

# A service status for each Task status an EHR or a partner platform may set without naming one.
DEFAULT_SERVICE_STATUS = {
    "in-progress": ServiceStatus.ENROLLED,
    "on-hold": ServiceStatus.WAITING_LIST,
    "completed": ServiceStatus.CLOSED_SUCCESS,
}


def _invalid(where: str, message: str) -> InvalidInput:
    return InvalidInput(f"{where}: {message}", field=where)


def check_resource(data: Any, kind: str) -> dict[str, Any]:
    """`data` as a valid FHIR R4 `kind`; the first problem named by its path otherwise."""
    if not isinstance(data, dict) or data.get("resourceType") != kind:
        got = data.get("resourceType") if isinstance(data, dict) else type(data).__name__
        raise _invalid(kind, f"a {kind} resource is required (got {got}).")
    try:
        MODELS[kind].model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        path = ".".join(str(p) for p in first["loc"] if p != "__root__")
        raise _invalid(f"{kind}.{path}" if path else kind, f"{first['msg']}.") from None
    return data


@dataclass(frozen=True)
class Created:
    """What an EHR's referral became: the answer is a transaction-response Bundle."""

    client: Client
    client_existed: bool
    referral: Referral
    task: Recipient | None
    order: list[str]


def create_from_bundle(
    session: Session, *, actor: Actor, bundle: dict[str, Any], channel: Channel
) -> Created:
    """Patient -> client (an existing match is reused: duplicates are the enemy), ServiceRequest
    -> referral, Task -> its receiving program (owner); then published, all in one transaction."""
    check_resource(bundle, "Bundle")
    if bundle.get("type") != "transaction":
        raise _invalid("Bundle.type", f'"transaction" is required (got "{bundle.get("type")}").')
    found: dict[str, dict[str, Any]] = {}
    order: list[str] = []
    for i, entry in enumerate(bundle.get("entry") or []):
        resource = entry.get("resource") or {}
        kind = resource.get("resourceType")
        if kind not in ("Task", "ServiceRequest", "Patient") or kind in found:
            raise _invalid(
                f"Bundle.entry[{i}]",
                f"one Task, one ServiceRequest and one Patient are expected (got {kind}).",
            )
        found[kind] = resource
        order.append(kind)
    for kind in ("Task", "ServiceRequest", "Patient"):
        if kind not in found:
            raise _invalid("Bundle.entry", f"the {kind} is missing.")
    task, request, patient = found["Task"], found["ServiceRequest"], found["Patient"]
    if task.get("status") != "requested":
        raise IllegalTransition(
            f'A new referral Task starts as requested, not "{task.get("status")}".',
            field="Task.status",
        )
    client, existed = _client(session, actor, patient, channel)
    owner = _owner(session, task)
    draft = {
        "client_id": client.id,
        "facility_code": _facility(request),
        "urgency": URGENCY.get(
            str(request.get("priority") or task.get("priority")), Urgency.ROUTINE
        ),
        "needs": _needs(request),
        "counties": _counties(request, client),
        "summary": _note(request),
    }
    if owner is not None:
        draft["target_programs"] = [owner.key]
    referral = referrals.create_referral(session, actor=actor, draft=draft, channel=channel)
    try:
        referrals.publish_referral(
            session, actor=actor, number=referral.number or "", channel=channel
        )
    except NoRecipients:
        if owner is None:
            raise
        # The owner is the only target: its refusal is said the FHIR way just below.
    recipient = None
    if owner is not None:
        recipient = session.scalar(
            select(Recipient).where(
                Recipient.referral_id == referral.id,
                Recipient.program_id == owner.id,
                Recipient.active.is_(True),
            )
        )
        if recipient is None:
            raise Conflict(
                f"Organization/{owner.key} ({owner.name}) cannot receive this referral: it does "
                "not serve the county or the needs, is suspended, or lacks a valid agency MOU or "
                "an active contact.",
                field="Task.owner",
            )
    return Created(client, existed, referral, recipient, order)


def _client(
    session: Session, actor: Actor, patient: dict[str, Any], channel: Channel
) -> tuple[Client, bool]:
    names = patient.get("name") or []
    name = names[0] if names else {}
    given = (name.get("given") or [""])[0]
    if not given or not name.get("family"):
        raise _invalid("Patient.name", "a family name and a given name are required.")
    if not patient.get("birthDate"):
        raise _invalid("Patient.birthDate", "the date of birth is required.")
    address = (patient.get("address") or [{}])[0]
    phone = next(
        (t.get("value") for t in patient.get("telecom") or [] if t.get("system") == "phone"), None
    )
    external = next(
        (i.get("value") for i in patient.get("identifier") or [] if i.get("value")), None
    )
    street = address.get("text") or ", ".join(
        [*address.get("line", []), *(address[k] for k in ("city", "postalCode") if address.get(k))]
    )
    data = {
        "first_name": given,
        "last_name": name["family"],
        "birth_date": patient["birthDate"],
        "gender": patient.get("gender"),
        "county": address.get("district"),
        "address": street or None,
        "phone": phone,
        "external_id": external,
    }
    try:
        return clients.create_client(session, actor=actor, data=data, channel=channel), False
    except DuplicateClient as exc:
        existing = session.get(Client, exc.match_id)
        assert existing is not None
        return existing, True


def _owner(session: Session, task: dict[str, Any]) -> Program | None:
    owner = task.get("owner")
    if not owner:
        return None
    key = str(owner.get("reference") or "").removeprefix("Organization/")
    key = key or str((owner.get("identifier") or {}).get("value") or "")
    program = session.scalar(select(Program).where(Program.key == key))
    if program is None:
        raise _invalid("Task.owner", f'there is no program "{key}" (Organization/<program key>).')
    return program


def _facility(request: dict[str, Any]) -> str:
    ident = ((request.get("requester") or {}).get("identifier") or {}).get("value") or ""
    return ident if re.fullmatch(r"[A-Za-z0-9]{3}", ident) else "EHR"


def _needs(request: dict[str, Any]) -> list[str]:
    codes = [
        c.get("code") for c in (request.get("code") or {}).get("coding") or [] if c.get("code")
    ]
    if not codes:
        raise _invalid("ServiceRequest.code", "at least one service code is required.")
    return [str(c) for c in codes]


def _counties(request: dict[str, Any], client: Client) -> list[str]:
    named = []
    for location in request.get("locationCode") or []:
        coding = (location.get("coding") or [{}])[0]
        value = coding.get("code") or location.get("text")
        if value:
            named.append(str(value))
    if not named and client.county is not None:
        named.append(client.county.fips)
    if not named:
        raise _invalid(
            "ServiceRequest.locationCode",
            "name the counties (FIPS codes) or give the Patient's address a district.",
        )
    return named


def _note(request: dict[str, Any]) -> str | None:
    notes = [n.get("text") for n in request.get("note") or [] if n.get("text")]
    return "\n".join(notes)[:2000] or None


# --- Task status changes -----------------------------------------------------------------------


def _reason_text(task: dict[str, Any]) -> str | None:
    reason = task.get("statusReason") or {}
    coding = (reason.get("coding") or [{}])[0]
    return reason.get("text") or coding.get("display") or coding.get("code")


def _business_status(task: dict[str, Any]) -> str | None:
    business = task.get("businessStatus") or {}
    coding = (business.get("coding") or [{}])[0]
    return business.get("text") or coding.get("display") or coding.get("code")


def update_task(
    session: Session,
    *,
    actor: Actor,
    task_id: int,
    task: dict[str, Any],
    systems: Systems,
    channel: Channel,
) -> dict[str, Any]:
    """A status change asked for through FHIR: checked against the IG's state machine, then done
    by the use case Slack and email call. The Task as it now stands is returned."""
    check_resource(task, "Task")
    recipient = visible_task(session, actor, task_id)
    referral = recipient.referral
    number = referral.number or ""
    current = fhir.current_status(referral, recipient)
    wanted = str(task.get("status"))
    business = _business_status(task)
    if wanted == current and business is None:
        return fhir.task(referral, recipient, systems)
    check_task_transition(task_id, current, wanted)
    program = recipient.program.key
    reason = _reason_text(task)
    if wanted == "accepted":
        work.respond_to_referral(
            session, actor=actor, number=number, kind="accept", channel=channel, program=program
        )
    elif wanted == "rejected":
        work.respond_to_referral(
            session,
            actor=actor,
            number=number,
            kind="decline",
            reason=reason,
            channel=channel,
            program=program,
        )
    elif wanted == "received" and reason:
        # Received with a reason: a tentative acceptance, the reason its provision.
        work.respond_to_referral(
            session,
            actor=actor,
            number=number,
            kind="tentative",
            reason=reason,
            channel=channel,
            program=program,
        )
    elif wanted == "cancelled":
        # The requester withdraws the referral: every program's Task is cancelled with it.
        referrals.delete_referral(
            session,
            actor=actor,
            number=number,
            channel=channel,
            reason=reason or "withdrawn by the requester (FHIR Task cancelled)",
        )
    elif wanted in ("in-progress", "on-hold", "completed", "failed"):
        status = _service_status(wanted, business)
        work.set_service_status(
            session, actor=actor, number=number, status=status, channel=channel, program=program
        )
    else:
        raise InvalidInput(
            f"Task {task_id}: closeloop marks a referral received when its gatekeeper assigns "
            "it; received without a provision (statusReason) cannot be set through FHIR.",
            field="Task.status",
        )
    session.flush()
    session.refresh(recipient)
    session.refresh(referral)
    return fhir.task(referral, recipient, systems)


def _service_status(wanted: str, business: str | None) -> ServiceStatus:
    if business is None:
        default = DEFAULT_SERVICE_STATUS.get(wanted)
        if default is None:
            raise InvalidInput(
                f"A {wanted} Task needs its businessStatus (which of the service statuses).",
                field="Task.businessStatus",
                hint="One of: "
                + ", ".join(s.value for s, v in FHIR_TASK_STATUS.items() if v == wanted)
                + ".",
            )
        return default
    status = match_choice(business, ServiceStatus, field="service status")
    if FHIR_TASK_STATUS[status] != wanted:
        raise InvalidInput(
            f'businessStatus "{status.value}" is a {FHIR_TASK_STATUS[status]} Task, not {wanted}.',
            field="Task.businessStatus",
        )
    return status
