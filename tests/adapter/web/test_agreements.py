"""Agreements on the web: a person whose user MOU lapsed signs it again on /agreement (the only
page open to them meanwhile); an admin renews an agency's MOU and its programs rejoin."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select, update

from bot.actors import actor_by_email
from storage.db import transaction
from storage.models import Agency, AuditEvent, Staff
from tests.adapter.web.conftest import Browser, csrf_of
from tests.conftest import Clock
from tests.network import ADMIN, DANA, GK_HOME
from tests.service.helpers import published, recipients

pytestmark = pytest.mark.anyio


async def test_a_lapsed_user_mou_is_signed_on_the_agreement_page(
    browser: Browser, clock: Clock
) -> None:
    with transaction(browser.sessions) as session:
        session.execute(
            update(Staff).where(Staff.email == DANA).values(user_mou_signed_on=date(2025, 2, 1))
        )
    await browser.sign_in(DANA)  # sent to the agreement page, not the referrals

    refused = await browser.http.get("/referrals")
    assert refused.status_code == 403
    assert "/agreement" in refused.text
    shown = await browser.http.get("/agreement")
    assert shown.status_code == 200
    assert "it lapsed on 2026-02-02" in shown.text
    assert "I use closeloop only for the referrals" in shown.text

    signed = await browser.http.post("/agreement", data={"csrf_token": csrf_of(shown.text)})
    assert signed.status_code == 200
    assert "valid until 2027-03-03" in signed.text
    assert (await browser.http.get("/referrals")).status_code == 200
    again = await browser.http.post("/agreement", data={"csrf_token": csrf_of(signed.text)})
    assert again.status_code == 422 and "You can sign it again in its last 30 days" in again.text
    with transaction(browser.sessions) as session:
        assert session.scalar(select(Staff.user_mou_signed_on).where(Staff.email == DANA)) == (
            clock.now.date()
        )
        assert session.scalars(
            select(AuditEvent.channel).where(AuditEvent.action == "user_mou_signed")
        ).all() == ["web"]


async def test_an_admin_renews_an_agency_mou_and_its_programs_rejoin(browser: Browser) -> None:
    with transaction(browser.sessions) as session:
        session.execute(
            update(Agency).where(Agency.key == "heartland").values(mou_expires_on=date(2026, 2, 1))
        )
    # Publishing to no program is refused: Ozark Behaviour (every county) takes the BEH need.
    number = published(browser.sessions, needs=["RES", "BEH"])
    with transaction(browser.sessions) as session:
        assert sorted(recipients(session, number)) == ["ozark-beh"]

    await browser.sign_in(GK_HOME)
    assert (await browser.http.get("/agencies")).status_code == 403
    await browser.sign_out()
    await browser.sign_in(ADMIN)
    listing = await browser.http.get("/agencies")
    assert listing.status_code == 200 and "(not valid)" in listing.text
    bad = await browser.http.post(
        "/agencies/heartland/mou",
        data={"csrf_token": csrf_of(listing.text), "signed_on": "someday", "expires_on": ""},
    )
    assert (bad.status_code == 400 and "signed_on" in bad.text) or "someday" in bad.text
    done = await browser.http.post(
        "/agencies/heartland/mou",
        data={"csrf_token": csrf_of(listing.text), "signed_on": "2026-03-01", "expires_on": ""},
    )
    assert done.status_code == 200
    assert "valid until 2027-03-01; 1 open referral(s) reached its programs" in done.text
    with transaction(browser.sessions) as session:
        assert sorted(recipients(session, number)) == ["heartland-res", "ozark-beh"]
        assert actor_by_email(session, ADMIN).is_admin
