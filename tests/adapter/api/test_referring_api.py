"""The referring side's endpoints: client search, likely duplicates, consent, preview, edit
and re-publish, delete, program listing, capacity; each refusal names its field."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from storage.db import transaction
from storage.models import AuditEvent, Client, Referral
from tests.adapter.api.conftest import Api
from tests.network import COORD, DANA, GK_HOME

pytestmark = pytest.mark.anyio

MARIA = {
    "first_name": "María",
    "last_name": "García-López",
    "birth_date": "1990-04-02",
    "address": "12 Main Street",
    "phone": "999-999-9999",
    "external_id": "MO-778812",
}


async def _maria(api: Api) -> int:
    response = await api.as_(COORD)("POST", "/clients", json=MARIA)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def _clients(api: Api) -> int:
    with transaction(api.sessions) as session:
        return len(session.scalars(select(Client)).all())


async def test_search_a_likely_duplicate_and_create_anyway(api: Api) -> None:
    maria = await _maria(api)
    call = api.as_(COORD)
    found = await call("GET", "/clients", params={"q": "maria garcia 1990-04-02"})
    assert found.status_code == 200
    assert [c["id"] for c in found.json()] == [maria]
    again = {**MARIA, "first_name": "Maria", "last_name": "Garcia", "address": "12 Main St."}
    refused = await call("POST", "/clients", json=again)
    assert refused.status_code == 409
    body = refused.json()
    assert body["field"] == "client"
    assert body["match_id"] == maria
    assert body["matches"] == [
        {
            "client_id": maria,
            "first_name": "María",
            "last_name": "García-López",
            "birth_date": "1990-04-02",
            "county": None,
            "fields": ["first_name", "last_name", "birth_date", "address", "external_id"],
        }
    ]
    assert _clients(api) == 1
    created = await call("POST", "/clients", json={**again, "different_from": [maria]})
    assert created.status_code == 201, created.text
    with transaction(api.sessions) as session:
        actions = session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
        assert actions[-2:] == ["client_created", "client_declared_different"]
    denied = await api.as_(DANA)("GET", "/clients", params={"q": "maria"})
    assert denied.status_code == 403


async def test_consent_signed_in_the_past_and_refused_without_a_reference(api: Api) -> None:
    maria = await _maria(api)
    call = api.as_(COORD)
    body = {
        "client_id": maria,
        "any_program": True,
        "info_types": ["demographics"],
        "signed_by": "María García-López",
        "method": "uploaded scan",
        "signed_on": "2026-02-01",
    }
    refused = await call("POST", "/consents", json=body)
    assert (refused.status_code, refused.json()["field"]) == (422, "reference")
    signed = await call("POST", "/consents", json={**body, "reference": "SCAN-42"})
    assert signed.status_code == 201, signed.text
    assert signed.json()["expires_on"] == "2027-02-01"
    assert signed.json()["any_program"] is True


async def test_preview_publish_refusals_edit_and_delete(api: Api) -> None:
    maria = await _maria(api)
    call = api.as_(COORD)
    draft = await call(
        "POST",
        "/referrals",
        json={
            "client_id": maria,
            "facility_code": "CMO",
            "needs": ["RES"],
            "counties": ["Jackson County"],
        },
    )
    number = draft.json()["number"]
    preview = await call("GET", f"/referrals/{number}/preview")
    assert preview.status_code == 200
    assert preview.json()["receiving"] == []
    assert [(r["program"], r["reason"]) for r in preview.json()["refused"]] == [
        ("heartland-res", "county"),
        ("ozark-rsp", "county"),
    ]
    assert "María" not in preview.text
    refused = await call("POST", f"/referrals/{number}/publish")
    assert refused.status_code == 409
    assert refused.json()["field"] == "counties"
    assert "no program would receive it" in refused.json()["error"]

    capacity = await api.as_(GK_HOME)(
        "PUT", "/programs/heartland-res/capacity", json={"status": "no capacity"}
    )
    assert capacity.status_code == 200
    assert capacity.json()["capacity"] == "no capacity (since 2026-03-02)"
    edited = await call("PATCH", f"/referrals/{number}", json={"counties": ["Boone County"]})
    assert edited.status_code == 200
    assert edited.json()["published"] is None  # a draft is edited, not published
    warned = await call("POST", f"/referrals/{number}/publish")
    assert (warned.status_code, warned.json()["field"]) == (409, "confirm_no_capacity")
    sent = await call(
        "POST", f"/referrals/{number}/publish", params={"confirm_no_capacity": "true"}
    )
    assert sent.status_code == 200
    assert sent.json()["programs"] == ["Heartland Residential"]

    moved = await call("PATCH", f"/referrals/{number}", json={"counties": ["Greene County"]})
    assert moved.status_code == 200
    assert moved.json()["published"]["joined"] == ["Ozark Respite"]
    assert moved.json()["published"]["left"] == ["Heartland Residential"]
    bad = await call("PATCH", f"/referrals/{number}", json={"counties": ["Atlantis"]})
    assert (bad.status_code, bad.json()["field"]) == (422, "counties")

    deleted = await call("DELETE", f"/referrals/{number}", params={"reason": "entered twice"})
    assert deleted.status_code == 200
    with transaction(api.sessions) as session:
        referral = session.scalar(select(Referral).where(Referral.number == number))
        assert referral is not None and referral.deleted_reason == "entered twice"


async def test_program_listing_and_capacity_refusals(api: Api) -> None:
    call = api.as_(COORD)
    listed = await call("GET", "/programs", params={"need": "RES", "county": "Boone"})
    assert listed.status_code == 200
    assert [(p["key"], p["receives"], p["capacity"]) for p in listed.json()] == [
        ("heartland-res", True, None)
    ]
    unknown = await call("GET", "/programs", params={"county": "Atlantis"})
    assert (unknown.status_code, unknown.json()["field"]) == (422, "county")
    forbidden = await api.as_(DANA)(
        "PUT", "/programs/heartland-res/capacity", json={"status": "open"}
    )
    assert forbidden.status_code == 403
    short = await api.as_(GK_HOME)(
        "PUT", "/programs/heartland-res/capacity", json={"status": "waitlist"}
    )
    assert (short.status_code, short.json()["field"]) == (422, "waitlist")
