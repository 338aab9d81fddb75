"""FHIR out: each referral-program pair as an SDOHCC Task, its ServiceRequest and Patient, read
with the API's tokens, every read audited, every resource valid for its profile."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from bot.actors import actor_by_email
from bot.domain.vocab import Channel
from bot.interop.fhir import MODELS, missing_required
from bot.services import work
from storage.db import transaction
from storage.models import AuditEvent, Recipient, Referral
from tests.adapter.api.conftest import Api
from tests.adapter.api.test_api import _draft
from tests.network import ADMIN, COORD, DANA, GK_HOME, GK_RIVER

pytestmark = pytest.mark.anyio


def valid(resource: dict[str, Any]) -> dict[str, Any]:
    """The resource as a FHIR client would check it: the library's R4 model accepts it, and it
    carries every element its profile requires."""
    MODELS[resource["resourceType"]].model_validate(resource)
    assert missing_required(resource) == []
    return resource


async def _published(api: Api) -> tuple[str, int, int]:
    number = await _draft(api, needs=["RES"], counties=["Boone County"])
    published = await api.as_(COORD)("POST", f"/referrals/{number}/publish")
    assert published.status_code == 200, published.text
    with transaction(api.sessions) as session:
        referral = session.scalar(select(Referral).where(Referral.number == number))
        assert referral is not None
        task = next(r.id for r in referral.recipients if r.program.key == "heartland-res")
        return number, task, referral.id


def _audited(api: Api, action: str) -> int:
    with transaction(api.sessions) as session:
        return int(
            session.scalar(
                select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)
            )
            or 0
        )


async def _task(api: Api, task_id: int, by: str = GK_HOME) -> dict[str, Any]:
    response = await api.as_fhir(by)("GET", f"/Task/{task_id}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/fhir+json"
    return valid(response.json())


def _work(api: Api, by: str, run: Any) -> None:
    with transaction(api.sessions) as session:
        run(session, actor_by_email(session, by))


async def test_a_referral_walked_through_its_life_shows_each_task_status_in_order(
    api: Api,
) -> None:
    number, task_id, referral_id = await _published(api)
    seen = [await _task(api, task_id)]
    steps = [
        lambda s, a: work.assign_referral(
            s, actor=a, number=number, provider=DANA, channel=Channel.SLACK, program="heartland-res"
        ),
        lambda s, a: work.respond_to_referral(
            s, actor=a, number=number, kind="accept", channel=Channel.EMAIL, program="heartland-res"
        ),
        lambda s, a: work.set_service_status(
            s,
            actor=a,
            number=number,
            status="enrolled",
            channel=Channel.SLACK,
            program="heartland-res",
        ),
        lambda s, a: work.set_service_status(
            s,
            actor=a,
            number=number,
            status="on waiting list",
            channel=Channel.SLACK,
            program="heartland-res",
        ),
        lambda s, a: work.set_service_status(
            s,
            actor=a,
            number=number,
            status="enrolled",
            channel=Channel.SLACK,
            program="heartland-res",
        ),
        lambda s, a: work.set_service_status(
            s,
            actor=a,
            number=number,
            status="closed - successful",
            channel=Channel.EMAIL,
            program="heartland-res",
        ),
    ]
    for i, step in enumerate(steps):
        _work(api, GK_HOME if i == 0 else DANA, step)
        seen.append(await _task(api, task_id))
    assert [t["status"] for t in seen] == [
        "requested",
        "received",
        "accepted",
        "in-progress",
        "on-hold",
        "in-progress",
        "completed",
    ]
    assert [t.get("businessStatus", {}).get("text") for t in seen] == [
        None,
        None,
        None,
        "enrolled in services",
        "on waiting list",
        "enrolled in services",
        "closed - successful completion",
    ]
    last = seen[-1]
    assert last["owner"]["reference"] == "Organization/heartland-res"
    assert last["owner"]["display"] == "Heartland Residential"
    assert last["focus"] == {"reference": f"ServiceRequest/{referral_id}"}
    assert last["priority"] == "routine"
    assert last["meta"]["profile"] == [
        "http://hl7.org/fhir/us/sdoh-clinicalcare/StructureDefinition/SDOHCC-TaskForReferralManagement"
    ]
    # Each read was audited (7 reads), none of them shows client details.
    assert _audited(api, "fhir_task_read") == 7
    assert "display" not in last["for"]


async def test_declines_and_provisions_give_a_status_reason(api: Api) -> None:
    number, task_id, _ = await _published(api)
    _work(
        api,
        GK_HOME,
        lambda s, a: work.respond_to_referral(
            s,
            actor=a,
            number=number,
            kind="tentative",
            reason="pending funding",
            channel=Channel.SLACK,
            program="heartland-res",
        ),
    )
    provision = await _task(api, task_id)
    assert provision["status"] == "received"
    assert provision["statusReason"]["text"] == "provision: pending funding approval"
    _work(
        api,
        GK_HOME,
        lambda s, a: work.respond_to_referral(
            s,
            actor=a,
            number=number,
            kind="decline",
            reason="no vacancy",
            comment="full until May",
            channel=Channel.SLACK,
            program="heartland-res",
        ),
    )
    declined = await _task(api, task_id)
    assert declined["status"] == "rejected"
    assert declined["statusReason"]["text"] == "declined: no vacancy (full until May)"


async def test_search_by_owner_status_and_last_updated(api: Api, clock: Any) -> None:
    number, task_id, _ = await _published(api)
    published_at = clock.now
    clock.advance(hours=2)
    later = clock.now
    _work(
        api,
        GK_HOME,
        lambda s, a: work.respond_to_referral(
            s, actor=a, number=number, kind="accept", channel=Channel.SLACK, program="heartland-res"
        ),
    )
    call = api.as_fhir(GK_HOME)

    async def ids(query: str) -> list[str]:
        response = await call("GET", f"/Task?{query}")
        assert response.status_code == 200, response.text
        bundle = valid(response.json())
        assert bundle["type"] == "searchset"
        return [valid(e["resource"])["id"] for e in bundle.get("entry", [])]

    assert await ids("owner=Organization/heartland-res") == [str(task_id)]
    assert await ids("owner=Organization/heartland-res&status=accepted") == [str(task_id)]
    assert await ids("owner=Organization/heartland-res&status=requested,rejected") == []
    stamp = later.isoformat().replace("+00:00", "Z")
    assert await ids(f"owner=Organization/heartland-res&_lastUpdated=ge{stamp}") == [str(task_id)]
    early = published_at.isoformat().replace("+00:00", "Z")
    assert await ids(f"owner=Organization/heartland-res&_lastUpdated=lt{early}") == []
    # Another agency's gatekeeper sees none of Heartland's Tasks.
    other = await api.as_fhir(GK_RIVER)("GET", "/Task?owner=Organization/heartland-res")
    assert other.json().get("entry") is None
    assert _audited(api, "fhir_tasks_searched") == 6


async def test_service_request_and_patient_are_read_through_the_audited_path(api: Api) -> None:
    number, _task_id, referral_id = await _published(api)
    with transaction(api.sessions) as session:
        referral = session.get(Referral, referral_id)
        assert referral is not None
        client_id = referral.client_id
    before = _audited(api, "client_data_viewed")
    request = await api.as_fhir(COORD)("GET", f"/ServiceRequest/{referral_id}")
    assert request.status_code == 200, request.text
    sr = valid(request.json())
    assert sr["identifier"][0]["value"] == number
    assert sr["code"]["coding"][0]["code"] == "RES"
    assert sr["subject"] == {"reference": f"Patient/{client_id}"}
    assert sr["status"] == "active"
    patient = await api.as_fhir(GK_HOME)("GET", f"/Patient/{client_id}")
    assert patient.status_code == 200, patient.text
    body = valid(patient.json())
    assert body["name"] == [{"family": "Stone", "given": ["Avery"]}]
    assert body["birthDate"] == "2001-04-09"
    assert body["address"] == [{"district": "Boone County"}]
    assert _audited(api, "client_data_viewed") == before + 2
    # Someone without a role on the referral is told there is nothing they can see.
    refused = await api.as_fhir(GK_RIVER)("GET", f"/Patient/{client_id}")
    assert refused.status_code == 404
    outcome = valid(refused.json())
    assert outcome["issue"][0]["code"] == "not-found"
    assert (
        outcome["issue"][0]["diagnostics"] == f"There is no Patient {client_id} that you can see."
    )
    assert _audited(api, "client_data_viewed") == before + 2
    # Admins see it, and without a token nobody does.
    assert (await api.as_fhir(ADMIN)("GET", f"/Patient/{client_id}")).status_code == 200
    anonymous = await api.http.get(f"/fhir/Patient/{client_id}")
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    assert valid(anonymous.json())["issue"][0]["code"] == "login"
    malformed = await api.as_fhir(ADMIN)("GET", "/Patient/not-a-number")
    assert malformed.status_code == 422
    assert valid(malformed.json())["issue"][0]["expression"] == ["path.client_id"]


async def test_the_capability_statement(api: Api) -> None:
    response = await api.http.get("/fhir/metadata")
    assert response.status_code == 200
    statement = valid(response.json())
    assert statement["fhirVersion"] == "4.0.1"
    task = next(r for r in statement["rest"][0]["resource"] if r["type"] == "Task")
    assert {p["name"] for p in task["searchParam"]} == {"owner", "status", "_lastUpdated"}


async def test_a_task_of_another_program_is_not_found(api: Api) -> None:
    _number, task_id, _ = await _published(api)
    response = await api.as_fhir(GK_RIVER)("GET", f"/Task/{task_id}")
    assert response.status_code == 404
    assert valid(response.json())["issue"][0]["diagnostics"] == (
        f"There is no Task {task_id} that you can see."
    )
    with transaction(api.sessions) as session:
        assert session.get(Recipient, task_id) is not None
