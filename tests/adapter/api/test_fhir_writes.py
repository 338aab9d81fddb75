"""FHIR in: an EHR's transaction Bundle creates the client (duplicates reused) and the referral;
Task status changes follow the IG's state machine; REST-hooks are told through the outbox."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.actors import actor_by_email
from bot.domain.vocab import Channel, ReferralState, ResponseKind
from bot.runtime import Runtime
from bot.services import fhir_hooks, work
from bot.settings import Settings
from storage.db import transaction
from storage.models import AuditEvent, Client, OutboxMessage, Recipient, Referral
from tests.adapter.api.conftest import Api
from tests.adapter.api.test_fhir_reads import valid
from tests.conftest import Clock
from tests.network import COORD, DANA, GK_HOME, GK_RIVER

pytestmark = pytest.mark.anyio


def ehr_bundle(
    *, owner: str | None = "heartland-res", code: str = "RES", phone: str = "573-555-0199"
) -> dict[str, Any]:
    task: dict[str, Any] = {
        "resourceType": "Task",
        "status": "requested",
        "intent": "order",
        "priority": "urgent",
        "code": {
            "coding": [{"system": "http://hl7.org/fhir/CodeSystem/task-code", "code": "fulfill"}]
        },
        "focus": {"reference": "urn:uuid:sr-1"},
        "for": {"reference": "urn:uuid:pt-1"},
    }
    if owner:
        task["owner"] = {"reference": f"Organization/{owner}"}
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:pt-1",
                "resource": {
                    "resourceType": "Patient",
                    "identifier": [{"system": "urn:oid:2.16.840.1.113883.4.1", "value": "MRN-77"}],
                    "name": [{"family": "Okafor", "given": ["Jordan"]}],
                    "gender": "female",
                    "birthDate": "1988-07-14",
                    "telecom": [{"system": "phone", "value": phone}],
                    "address": [
                        {"line": ["12 Elm St"], "city": "Columbia", "district": "Boone County"}
                    ],
                },
                "request": {"method": "POST", "url": "Patient"},
            },
            {
                "fullUrl": "urn:uuid:sr-1",
                "resource": {
                    "resourceType": "ServiceRequest",
                    "status": "active",
                    "intent": "order",
                    "priority": "urgent",
                    "code": {"coding": [{"system": "http://example.org/codes", "code": code}]},
                    "subject": {"reference": "urn:uuid:pt-1"},
                    "requester": {"identifier": {"value": "UMC"}, "display": "University clinic"},
                    "note": [{"text": "Needs a placement near family."}],
                },
                "request": {"method": "POST", "url": "ServiceRequest"},
            },
            {
                "fullUrl": "urn:uuid:task-1",
                "resource": task,
                "request": {"method": "POST", "url": "Task"},
            },
        ],
    }


async def _post(api: Api, bundle: dict[str, Any], by: str = COORD) -> Any:
    return await api.as_fhir(by)("POST", "/Task", content=json.dumps(bundle))


def _count(api: Api, model: Any) -> int:
    with transaction(api.sessions) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


async def test_an_ehr_referral_creates_the_client_and_the_published_referral(api: Api) -> None:
    response = await _post(api, ehr_bundle())
    assert response.status_code == 200, response.text
    answer = valid(response.json())
    assert answer["type"] == "transaction-response"
    statuses = [
        (e["response"]["status"], e["response"]["location"].split("/")[0]) for e in answer["entry"]
    ]
    assert statuses == [
        ("201 Created", "Patient"),
        ("201 Created", "ServiceRequest"),
        ("201 Created", "Task"),
    ]
    task_id = int(answer["entry"][2]["response"]["location"].split("/")[1])
    with transaction(api.sessions) as session:
        client = session.scalar(select(Client))
        assert client is not None
        assert (client.first_name, client.last_name, client.external_id) == (
            "Jordan",
            "Okafor",
            "MRN-77",
        )
        assert client.county is not None and client.county.name == "Boone County"
        recipient = session.get(Recipient, task_id)
        assert recipient is not None
        referral = recipient.referral
        assert referral.state == ReferralState.OPEN
        assert (referral.facility_code, referral.urgency.value, referral.needs) == (
            "UMC",
            "urgent",
            ["RES"],
        )
        assert [r.program.key for r in referral.recipients] == ["heartland-res"]
        assert referral.summary == "Needs a placement near family."
        # The gatekeeper of the program was told, through the outbox.
        told = session.scalars(
            select(OutboxMessage.address).where(OutboxMessage.kind == "referral_published")
        ).all()
        assert GK_HOME in told
    task = valid((await api.as_fhir(GK_HOME)("GET", f"/Task/{task_id}")).json())
    assert (task["status"], task["priority"]) == ("requested", "urgent")

    # The same person again (same name, birth date and phone): the client is reused, not doubled.
    again = await _post(api, ehr_bundle(owner="ozark-beh", code="BEH"))
    assert again.status_code == 200, again.text
    assert valid(again.json())["entry"][0]["response"]["status"] == "200 OK"
    assert _count(api, Client) == 1
    assert _count(api, Referral) == 2


async def test_a_bad_bundle_is_refused_whole_naming_the_element(api: Api) -> None:
    bundle = ehr_bundle()
    del bundle["entry"][0]["resource"]["birthDate"]
    refused = await _post(api, bundle)
    assert refused.status_code == 422
    issue = valid(refused.json())["issue"][0]
    assert (issue["code"], issue["diagnostics"], issue["expression"]) == (
        "invalid",
        "Patient.birthDate: the date of birth is required.",
        ["Patient.birthDate"],
    )
    unreachable = await _post(api, ehr_bundle(owner="river-hsg"))  # no RES at River Housing
    assert unreachable.status_code == 409
    assert valid(unreachable.json())["issue"][0]["diagnostics"].startswith(
        "Organization/river-hsg (River Housing) cannot receive this referral"
    )
    not_requested = ehr_bundle()
    not_requested["entry"][2]["resource"]["status"] = "accepted"
    assert (await _post(api, not_requested)).status_code == 422
    # Nothing of any of them was kept.
    assert (_count(api, Client), _count(api, Referral)) == (0, 0)
    # Only coordinators refer.
    assert (await _post(api, ehr_bundle(), by=GK_HOME)).status_code == 403


async def _created_task(api: Api) -> int:
    response = await _post(api, ehr_bundle())
    assert response.status_code == 200, response.text
    return int(response.json()["entry"][2]["response"]["location"].split("/")[1])


async def _put(api: Api, task_id: int, by: str, **fields: Any) -> Any:
    body = {"resourceType": "Task", "intent": "order", **fields}
    return await api.as_fhir(by)("PUT", f"/Task/{task_id}", content=json.dumps(body))


async def test_the_ig_state_machine_is_enforced(api: Api) -> None:
    task_id = await _created_task(api)
    api.token(GK_HOME)  # issued (and audited) before counting
    audit_before = _count(api, AuditEvent)
    illegal = await _put(api, task_id, GK_HOME, status="completed")
    assert illegal.status_code == 422
    issue = valid(illegal.json())["issue"][0]
    assert issue["code"] == "business-rule"
    assert issue["diagnostics"] == (
        f"Task {task_id} cannot go from requested to completed. "
        "From requested a referral Task may go to accepted, cancelled, received, rejected."
    )
    assert issue["expression"] == ["Task.status"]
    assert _count(api, AuditEvent) == audit_before
    with transaction(api.sessions) as session:
        recipient = session.get(Recipient, task_id)
        assert recipient is not None and recipient.service_status is None

    accepted = await _put(api, task_id, GK_HOME, status="accepted")
    assert accepted.status_code == 200, accepted.text
    assert valid(accepted.json())["status"] == "accepted"
    enrolled = await _put(api, task_id, GK_HOME, status="in-progress")
    assert valid(enrolled.json())["businessStatus"]["text"] == "enrolled in services"
    wrong = await _put(
        api, task_id, GK_HOME, status="failed", businessStatus={"text": "enrolled in services"}
    )
    assert wrong.status_code == 422
    assert valid(wrong.json())["issue"][0]["diagnostics"] == (
        'businessStatus "enrolled in services" is a in-progress Task, not failed.'
    )
    failed = await _put(
        api, task_id, GK_HOME, status="failed", businessStatus={"text": "not completed - moved"}
    )
    assert valid(failed.json())["status"] == "failed"
    final = await _put(api, task_id, GK_HOME, status="in-progress")
    assert valid(final.json())["issue"][0]["diagnostics"] == (
        f"Task {task_id} cannot go from failed to in-progress. "
        "From failed a referral Task may go to nothing: failed is final."
    )
    # Someone of another program cannot touch it at all.
    assert (await _put(api, task_id, GK_RIVER, status="accepted")).status_code == 404


async def test_a_decline_through_fhir_needs_and_keeps_its_reason(api: Api) -> None:
    task_id = await _created_task(api)
    no_reason = await _put(api, task_id, GK_HOME, status="rejected")
    assert no_reason.status_code == 422
    declined = await _put(
        api, task_id, GK_HOME, status="rejected", statusReason={"text": "no vacancy"}
    )
    assert declined.status_code == 200, declined.text
    with transaction(api.sessions) as session:
        recipient = session.get(Recipient, task_id)
        assert recipient is not None
        assert (recipient.response, recipient.response_reason) == (
            ResponseKind.DECLINE,
            "no vacancy",
        )
        assert [v.channel for v in recipient.responses] == ["api"]


class Hooks:
    """A subscriber's endpoint: a real HTTP server on 127.0.0.1 recording what it is sent."""

    def __init__(self) -> None:
        self.received: list[tuple[str | None, dict[str, Any]]] = []
        hooks = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hooks.received.append((self.headers.get("Authorization"), json.loads(body)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def hooks() -> Iterator[Hooks]:
    server = Hooks()
    yield server
    server.close()


async def test_a_rest_hook_hears_of_changes_made_in_slack_and_by_email(
    api: Api, hooks: Hooks, network: sessionmaker[Session], settings: Settings, clock: Clock
) -> None:
    fhir_hooks.install(network)
    task_id = await _created_task(api)
    subscription = {
        "resourceType": "Subscription",
        "status": "requested",
        "reason": "our referrals",
        "criteria": "Task?owner=Organization/heartland-res",
        "channel": {
            "type": "rest-hook",
            "endpoint": hooks.url,
            "payload": "application/fhir+json",
            "header": ["Authorization: Bearer ehr-secret"],
        },
    }
    created = await api.as_fhir(COORD)("POST", "/Subscription", content=json.dumps(subscription))
    assert created.status_code == 201, created.text
    sub_id = valid(created.json())["id"]
    with transaction(network) as session:
        number = session.get(Recipient, task_id).referral.number  # type: ignore[union-attr]
        work.assign_referral(
            session,
            actor=actor_by_email(session, GK_HOME),
            number=number,
            provider=DANA,
            channel=Channel.SLACK,
            program="heartland-res",
        )
    with transaction(network) as session:
        work.respond_to_referral(
            session,
            actor=actor_by_email(session, DANA),
            number=number,
            kind="accept",
            channel=Channel.EMAIL,
            program="heartland-res",
        )
    with transaction(network) as session:
        work.add_note(
            session,
            actor=actor_by_email(session, DANA),
            number=number,
            text="called",
            channel=Channel.EMAIL,
            program="heartland-res",
        )
    with transaction(network) as session:
        rows = session.scalars(
            select(OutboxMessage).where(OutboxMessage.channel == "fhir").order_by(OutboxMessage.id)
        ).all()
        assert [(r.address, r.payload["task"], r.payload["status"]) for r in rows] == [
            (hooks.url, task_id, "received"),
            (hooks.url, task_id, "accepted"),
        ]
    runtime = Runtime(settings, clock=clock)
    try:
        runtime.dispatcher().drain()
    finally:
        runtime.close()
    assert [auth for auth, _ in hooks.received] == ["Bearer ehr-secret", "Bearer ehr-secret"]
    for _auth, bundle in hooks.received:
        valid(bundle)
        event = bundle["entry"][0]["resource"]
        assert event["resourceType"] == "SubscriptionStatus"
        assert event["notificationEvent"][0]["focus"]["reference"].endswith(f"/fhir/Task/{task_id}")
        # Id-only: nothing about the client travels in a notification.
        assert "Okafor" not in json.dumps(bundle)
    assert [
        b["entry"][0]["resource"]["notificationEvent"][0]["eventNumber"] for _a, b in hooks.received
    ] == ["1", "2"]
    # The status as the subscriber then reads it is the one Slack and email made.
    assert (
        valid((await api.as_fhir(COORD)("GET", f"/Task/{task_id}")).json())["status"] == "accepted"
    )

    ended = await api.as_fhir(COORD)("DELETE", f"/Subscription/{sub_id}")
    assert ended.status_code == 200
    with transaction(network) as session:
        work.set_service_status(
            session,
            actor=actor_by_email(session, DANA),
            number=number,
            status="enrolled",
            channel=Channel.SLACK,
            program="heartland-res",
        )
    assert _count(api, OutboxMessage.__table__) > 0
    with transaction(network) as session:
        assert (
            session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.channel == "fhir")
            )
            == 2
        )


async def test_a_provision_and_a_cancellation_through_fhir(api: Api) -> None:
    task_id = await _created_task(api)
    bare = await _put(api, task_id, GK_HOME, status="received")
    assert bare.status_code == 422
    provision = await _put(
        api, task_id, GK_HOME, status="received", statusReason={"text": "pending a vacancy"}
    )
    assert provision.status_code == 200, provision.text
    assert valid(provision.json())["statusReason"]["text"] == "provision: pending a vacancy"
    # Only the referral's coordinator withdraws it; then every program's Task is cancelled.
    refused = await _put(api, task_id, GK_HOME, status="cancelled")
    assert refused.status_code == 403
    assert valid(refused.json())["issue"][0]["code"] == "forbidden"
    cancelled = await _put(api, task_id, COORD, status="cancelled")
    assert cancelled.status_code == 200, cancelled.text
    assert valid(cancelled.json())["status"] == "cancelled"
    with transaction(api.sessions) as session:
        recipient = session.get(Recipient, task_id)
        assert recipient is not None
        assert recipient.referral.state == ReferralState.DELETED
