"""The referring side's forms over HTTP: a refused form shows the error next to its field,
keeps what was typed and writes nothing; a good one does what it says."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from storage.db import transaction
from storage.models import AuditEvent, Client, Consent, Program, Referral
from tests.adapter.web.conftest import Browser, csrf_of
from tests.conftest import row_counts
from tests.network import COORD, GK_HOME

pytestmark = pytest.mark.anyio


def _counts(browser: Browser) -> dict[str, int]:
    with transaction(browser.sessions) as session:
        counts = row_counts(session)
    counts.pop("audit_events")  # searches and reads are audited; nothing else may change
    return counts


def _error_of(html: str, field: str) -> str:
    found = re.search(
        rf'<span class="field-error" id="err-{field}" role="alert">([^<]*)</span>', html
    )
    assert found, f"no error next to {field}"
    return found.group(1)


async def test_a_bad_new_client_is_shown_again_with_the_error_by_its_field(
    browser: Browser,
) -> None:
    await browser.sign_in(COORD)
    before = _counts(browser)
    form = await browser.http.get("/clients/new")
    response = await browser.http.post(
        "/clients/new",
        data={
            "csrf_token": csrf_of(form.text),
            "first_name": "Avery",
            "last_name": "Stone",
            "birth_date": "",
            "phone": "573-555-0101",
        },
    )
    assert response.status_code == 422
    assert "birth_date" in _error_of(response.text, "birth_date")
    assert 'value="Avery"' in response.text and 'value="573-555-0101"' in response.text
    assert _counts(browser) == before


async def test_the_duplicate_step_then_a_different_person(browser: Browser) -> None:
    await browser.sign_in(COORD)
    form = await browser.http.get("/clients/new")
    fields = {
        "csrf_token": csrf_of(form.text),
        "first_name": "María",
        "last_name": "García",
        "birth_date": "1990-04-02",
        "address": "12 Main Street",
    }
    first = await browser.http.post("/clients/new", data=fields)
    assert first.status_code == 303
    again = await browser.http.post(
        "/clients/new", data={**fields, "first_name": "Maria", "address": "12 Main St."}
    )
    assert again.status_code == 409
    assert "This client may already exist." in again.text
    assert "first name, last name, birth date, address" in again.text
    assert 'value="12 Main St."' in again.text
    different = re.search(r'name="different_from" value="([^"]*)"', again.text)
    assert different
    created = await browser.http.post(
        "/clients/new",
        data={**fields, "first_name": "Maria", "different_from": different.group(1)},
    )
    assert created.status_code == 303
    with transaction(browser.sessions) as session:
        assert len(session.scalars(select(Client)).all()) == 2
        assert session.scalars(
            select(AuditEvent).where(AuditEvent.action == "client_declared_different")
        ).all()


async def test_consent_and_referral_forms_refuse_by_field_and_write_nothing(
    browser: Browser,
) -> None:
    await browser.sign_in(COORD)
    form = await browser.http.get("/clients/new")
    made = await browser.http.post(
        "/clients/new",
        data={
            "csrf_token": csrf_of(form.text),
            "first_name": "Avery",
            "last_name": "Stone",
            "birth_date": "2001-04-09",
        },
    )
    path = made.headers["location"]
    token = csrf_of((await browser.http.get(path)).text)
    before = _counts(browser)
    consent = await browser.http.post(
        f"{path}/consents",
        data={
            "csrf_token": token,
            "programs": "heartland-res",
            "info_demographics": "1",
            "signed_by": "Avery Stone",
            "method": "uploaded scan",
            "signed_on": "2026-02-01",
        },
    )
    assert consent.status_code == 422
    assert "scan is kept" in _error_of(consent.text, "reference")
    assert 'value="2026-02-01"' in consent.text
    referral = await browser.http.post(
        f"{path}/refer",
        data={"csrf_token": token, "need_RES": "1", "counties": "Atlantis", "facility_code": "CMO"},
    )
    assert referral.status_code == 422
    assert "Atlantis" in _error_of(referral.text, "counties")
    assert 'value="Atlantis"' in referral.text
    assert _counts(browser) == before
    with transaction(browser.sessions) as session:
        assert session.scalars(select(Consent)).all() == []
        assert session.scalars(select(Referral)).all() == []


async def test_a_gatekeeper_sets_capacity_on_the_programs_page(browser: Browser) -> None:
    await browser.sign_in(GK_HOME)
    listing = await browser.http.get("/programs", params={"need": "RES", "county": "Boone"})
    assert listing.status_code == 200
    token = csrf_of(listing.text)
    short = await browser.http.post(
        "/programs/heartland-res/capacity", data={"csrf_token": token, "status": "waitlist"}
    )
    assert short.status_code == 422
    assert "waitlist" in _error_of(short.text, "waitlist")
    done = await browser.http.post(
        "/programs/heartland-res/capacity",
        data={"csrf_token": token, "status": "waitlist", "waitlist": "12"},
    )
    assert done.status_code == 200
    assert "Heartland Residential now has waitlist of 12 (since 2026-03-02)." in done.text
    with transaction(browser.sessions) as session:
        program = session.scalar(select(Program).where(Program.key == "heartland-res"))
        assert program is not None and program.capacity_waitlist == 12
