"""The REST API end to end: tokens, each endpoint's outcome in the database, and its refusals."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.actors import staff_by_email
from bot.domain.vocab import ReferralState
from handlers.api.tokens import revoke_tokens
from storage.db import transaction
from storage.models import ApiToken, AuditEvent, Client, Consent, Program, Referral
from tests.adapter.api.conftest import Api
from tests.network import ADMIN, COORD, DANA, GK_HOME, GK_RIVER

pytestmark = pytest.mark.anyio

CLIENT = {
    "first_name": "Avery",
    "last_name": "Stone",
    "birth_date": "2001-04-09",
    "phone": "573-555-0101",
    "county": "Boone County",
}


async def _client(api: Api, by: str = COORD, **fields: object) -> int:
    response = await api.as_(by)("POST", "/clients", json={**CLIENT, **fields})
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def _draft(api: Api, by: str = COORD, **fields: object) -> str:
    client_id = fields.pop("client_id", None) or await _client(api, by)
    body = {"client_id": client_id, "facility_code": "CMO", "needs": ["RES"], **fields}
    body.setdefault("counties", ["Boone County"])
    response = await api.as_(by)("POST", "/referrals", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["number"])


def _referral(api: Api, number: str) -> Referral:
    with transaction(api.sessions) as session:
        referral = session.scalar(select(Referral).where(Referral.number == number))
        assert referral is not None
        return referral


# --- authentication -----------------------------------------------------------------------------


async def test_no_token_or_a_wrong_one_is_401(api: Api) -> None:
    missing = await api.http.get("/api/v1/referrals")
    wrong = await api.http.get(
        "/api/v1/referrals", headers={"Authorization": "Bearer cl_not-a-token"}
    )
    assert (missing.status_code, wrong.status_code) == (401, 401)
    assert missing.headers["www-authenticate"] == "Bearer"
    assert wrong.json() == {"detail": "That token is not valid (unknown or revoked)."}


async def test_a_token_is_stored_hashed_and_its_use_noted(api: Api) -> None:
    secret = api.token(COORD)
    response = await api.http.get(
        "/api/v1/referrals", headers={"Authorization": f"Bearer {secret}"}
    )
    assert response.status_code == 200
    with transaction(api.sessions) as session:
        token = session.scalars(select(ApiToken)).one()
        assert token.token_hash != secret and secret not in token.token_hash
        assert token.last_used_at is not None


async def test_revoked_tokens_are_refused_at_once(api: Api) -> None:

    call = api.as_(COORD)
    assert (await call("GET", "/referrals")).status_code == 200
    with transaction(api.sessions) as session:
        assert revoke_tokens(session, email=COORD) == 1
    assert (await call("GET", "/referrals")).status_code == 401


async def test_staff_whose_access_was_removed_are_refused_with_a_live_token(api: Api) -> None:
    call = api.as_(COORD)
    with transaction(api.sessions) as session:
        staff = staff_by_email(session, COORD)
        assert staff is not None
        staff.active = False
    response = await call("GET", "/referrals")
    assert response.status_code == 403
    assert response.json()["error"] == "Your closeloop access was removed."


# --- clients and consents -----------------------------------------------------------------------


async def test_creating_a_client_and_refusing_a_duplicate(api: Api) -> None:
    call = api.as_(COORD)
    created = await call("POST", "/clients", json=CLIENT)
    assert created.status_code == 201
    body = created.json()
    assert (body["last_name"], body["county"], body["birth_date"]) == (
        "Stone",
        "Boone County",
        "2001-04-09",
    )
    # Same name and birth date, same phone written differently: the same person.
    again = await call("POST", "/clients", json={**CLIENT, "phone": "(573) 555 0101"})
    assert again.status_code == 409
    assert again.json()["match_id"] == body["id"]
    assert again.json()["field"] == "client"
    with transaction(api.sessions) as session:
        assert len(session.scalars(select(Client)).all()) == 1
        actions = session.scalars(select(AuditEvent.action)).all()
        assert "client_created" in actions


async def test_a_malformed_client_is_422_naming_the_field(api: Api) -> None:
    call = api.as_(COORD)
    missing = await call("POST", "/clients", json={"first_name": "A", "last_name": "B"})
    assert missing.status_code == 422
    assert ["body", "birth_date"] in [e["loc"] for e in missing.json()["detail"]]
    county = await call("POST", "/clients", json={**CLIENT, "county": "Atlantis"})
    assert county.status_code in (404, 422)
    assert county.json()["field"] == "county"


async def test_only_coordinators_create_clients(api: Api) -> None:
    response = await api.as_(DANA)("POST", "/clients", json=CLIENT)
    assert response.status_code == 403
    assert response.json()["error"] == "Only coordinators create and publish referrals."


async def test_signing_and_revoking_a_consent(api: Api) -> None:
    client_id = await _client(api)
    call = api.as_(COORD)
    signed = await call(
        "POST",
        "/consents",
        json={
            "client_id": client_id,
            "programs": ["heartland-res"],
            "info_types": ["demographics"],
            "signed_by": "Avery Stone",
            "method": "electronic",
        },
    )
    assert signed.status_code == 201, signed.text
    consent = signed.json()
    assert consent["programs"] == ["heartland-res"]
    assert consent["expires_on"] == "2027-03-02"
    revoked = await call("POST", f"/consents/{consent['id']}/revoke")
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    with transaction(api.sessions) as session:
        row = session.get(Consent, consent["id"])
        assert row is not None and row.revoked_at is not None
    assert (await call("POST", "/consents/999/revoke")).status_code == 404


# --- referrals ----------------------------------------------------------------------------------


async def test_the_referral_lifecycle(api: Api) -> None:
    call = api.as_(COORD)
    number = await _draft(api)
    assert _referral(api, number).state == ReferralState.DRAFT

    published = await call("POST", f"/referrals/{number}/publish")
    assert published.status_code == 200, published.text
    assert published.json()["number"] == number
    assert published.json()["programs"]
    assert _referral(api, number).state == ReferralState.OPEN

    again = await call("POST", f"/referrals/{number}/publish")
    assert again.status_code == 409

    republished = await call("POST", f"/referrals/{number}/republish")
    assert republished.status_code == 200
    assert _referral(api, number).publish_count == 2

    pending = await call("POST", f"/referrals/{number}/pending")
    assert pending.status_code == 200
    assert pending.json()["state"] == "pending_placement"

    no_reason = await call("POST", f"/referrals/{number}/close", json={"outcome": "not met"})
    assert no_reason.status_code == 422
    assert no_reason.json()["field"] == "reason"
    closed = await call(
        "POST", f"/referrals/{number}/close", json={"outcome": "partially met", "reason": "far"}
    )
    assert closed.status_code == 200
    referral = _referral(api, number)
    assert (referral.state, referral.outcome_reason) == (ReferralState.CLOSED, "far")


async def test_republish_pending_and_close_read_a_number_as_every_channel_does(api: Api) -> None:
    # They are work verbs like assign: the API builds the same command Slack and email build and
    # hands it to the one `apply`, so "2026-7" names R-2026-000007 here as it does there.
    call = api.as_(COORD)
    number = await _draft(api)
    assert (await call("POST", f"/referrals/{number}/publish")).status_code == 200
    _, year, serial = number.split("-")
    short = f"{year}-{int(serial)}"

    republished = await call("POST", f"/referrals/{short}/republish")
    assert republished.status_code == 200, republished.text
    assert republished.json()["number"] == number
    assert republished.json()["programs"]
    pending = await call("POST", f"/referrals/{short}/pending")
    assert pending.status_code == 200, pending.text
    assert (pending.json()["number"], pending.json()["state"]) == (number, "pending_placement")
    closed = await call("POST", f"/referrals/{short}/close", json={"outcome": "fully met"})
    assert closed.status_code == 200, closed.text
    assert closed.json()["number"] == number

    referral = _referral(api, number)
    assert (referral.state, referral.publish_count) == (ReferralState.CLOSED, 2)
    with transaction(api.sessions) as session:
        channels = session.scalars(
            select(AuditEvent.channel).where(
                AuditEvent.referral_id == referral.id,
                AuditEvent.action.in_(
                    ["referral_republished", "referral_pending", "referral_closed"]
                ),
            )
        ).all()
    assert channels == ["api", "api", "api"]


async def test_a_bad_outcome_is_422(api: Api) -> None:
    number = await _draft(api)
    response = await api.as_(COORD)("POST", f"/referrals/{number}/close", json={"outcome": "meh"})
    assert response.status_code == 422
    assert ["body", "outcome"] in [e["loc"] for e in response.json()["detail"]]


async def test_deleting_a_draft(api: Api) -> None:
    number = await _draft(api)
    call = api.as_(COORD)
    response = await call("DELETE", f"/referrals/{number}")
    assert response.status_code == 422
    assert response.json()["field"] == "reason"
    assert _referral(api, number).state == ReferralState.DRAFT
    response = await call("DELETE", f"/referrals/{number}", params={"reason": "entered twice"})
    assert response.status_code == 200
    assert response.json() == {
        "number": number,
        "programs": [],
        "joined": [],
        "left": [],
        "notified": 0,
    }
    assert _referral(api, number).state == ReferralState.DELETED


async def test_details_are_for_people_with_a_role_on_the_referral(api: Api) -> None:
    number = await _draft(api)
    call = api.as_(COORD)
    assert (await call("POST", f"/referrals/{number}/publish")).status_code == 200

    details = await call("GET", f"/referrals/{number}")
    assert details.status_code == 200
    body = details.json()
    assert body["client"]["first_name"] == "Avery"
    assert body["counties"] == ["Boone County"]
    assert "heartland-res" in [r["program"] for r in body["recipients"]]
    with transaction(api.sessions) as session:
        assert "client_data_viewed" in session.scalars(select(AuditEvent.action)).all()

    outsider = await api.as_(GK_RIVER)("GET", f"/referrals/{number}")
    assert outsider.status_code == 404
    assert outsider.json()["error"] == f"There is no referral {number} that you can see."


async def test_only_the_primary_coordinator_publishes(api: Api) -> None:
    number = await _draft(api)
    response = await api.as_(GK_HOME)("POST", f"/referrals/{number}/publish")
    assert response.status_code in (403, 404)
    assert _referral(api, number).state == ReferralState.DRAFT


async def test_a_malformed_draft_is_422_naming_the_field(api: Api) -> None:
    client_id = await _client(api)
    response = await api.as_(COORD)(
        "POST",
        "/referrals",
        json={"client_id": client_id, "facility_code": "TOOLONG", "needs": ["RES"]},
    )
    assert response.status_code == 422
    assert ["body", "facility_code"] in [e["loc"] for e in response.json()["detail"]]
    statewide_or_counties = await api.as_(COORD)(
        "POST",
        "/referrals",
        json={"client_id": client_id, "facility_code": "CMO", "needs": ["RES"], "counties": []},
    )
    assert statewide_or_counties.status_code == 422
    assert statewide_or_counties.json()["field"] == "counties"


async def test_search_pages_with_a_cursor_and_filters(api: Api) -> None:
    call = api.as_(COORD)
    for last_name, phone in (("Stone", "573-555-0001"), ("Reyes", "573-555-0002")):
        client_id = await _client(api, last_name=last_name, phone=phone)
        number = await _draft(api, client_id=client_id, needs=["DAY"])
        assert (await call("POST", f"/referrals/{number}/publish")).status_code == 200

    first = await call("GET", "/referrals", params={"limit": 1, "sort": "number"})
    assert first.status_code == 200, first.text
    page = first.json()
    assert (len(page["rows"]), page["total"]) == (1, 2)
    assert page["next_cursor"]
    second = await call(
        "GET", "/referrals", params={"limit": 1, "sort": "number", "cursor": page["next_cursor"]}
    )
    rest = second.json()
    assert len(rest["rows"]) == 1 and rest["next_cursor"] is None
    assert rest["rows"][0]["number"] != page["rows"][0]["number"]

    reyes = (await call("GET", "/referrals", params={"last_name": "reyes"})).json()
    assert [r["client_name"].split()[-1] for r in reyes["rows"]] == ["Reyes"]

    bad_limit = await call("GET", "/referrals", params={"limit": 0})
    assert bad_limit.status_code == 422
    bad_cursor = await call("GET", "/referrals", params={"cursor": "???"})
    assert bad_cursor.status_code == 422


# --- programs -----------------------------------------------------------------------------------


async def test_a_gatekeeper_suspends_and_resumes_their_program(api: Api) -> None:
    call = api.as_(GK_HOME)
    suspended = await call("POST", "/programs/heartland-res/suspend")
    assert suspended.status_code == 200, suspended.text
    assert suspended.json() == {
        "program": "Heartland Residential",
        "suspended": True,
        "changed": True,
        "joined": 0,
    }
    with transaction(api.sessions) as session:
        program = session.scalar(select(Program).where(Program.key == "heartland-res"))
        assert program is not None and program.suspended

    # Publishing to nobody is refused, naming why; with a second need it reaches Heartland Day.
    number = await _draft(api)
    nobody = await api.as_(COORD)("POST", f"/referrals/{number}/publish")
    assert nobody.status_code == 409
    assert "Heartland Residential: in no-referral status" in nobody.json()["error"]
    client_id = _referral(api, number).client_id
    number = await _draft(api, client_id=client_id, needs=["RES", "DAY"])
    published = await api.as_(COORD)("POST", f"/referrals/{number}/publish")
    assert published.json()["programs"] == ["Heartland Day"]

    resumed = await call("POST", "/programs/heartland-res/resume")
    assert resumed.json()["joined"] == 1

    refused = await api.as_(GK_RIVER)("POST", "/programs/heartland-res/suspend")
    assert refused.status_code == 403
    missing = await api.as_(ADMIN)("POST", "/programs/nowhere/suspend")
    assert missing.status_code == 422  # program_named treats it as a bad value
    assert missing.json()["error"]


# --- the schema -----------------------------------------------------------------------------------


async def test_openapi_describes_the_api_and_its_bearer_auth(api: Api) -> None:
    schema = (await api.http.get("/openapi.json")).json()
    paths = schema["paths"]
    assert "/api/v1/referrals/{number}/close" in paths
    assert "/api/v1/clients" in paths
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    created = paths["/api/v1/clients"]["post"]["responses"]
    assert created["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ClientOut"
    }
    assert "409" in created
