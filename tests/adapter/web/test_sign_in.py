"""Signing in to the web pages by emailed link: one use, expiry, the same answer for every
address, CSRF, and a session refused the moment its owner's access goes."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from bot.actors import staff_by_email
from storage.db import transaction
from storage.models import AuditEvent, OutboxMessage, RoleGrant, Staff, WebSession
from tests.adapter.web.conftest import Browser, csrf_of, sign_in_links
from tests.conftest import Clock, row_counts
from tests.network import COORD, GK_HOME
from tests.service.helpers import published

pytestmark = pytest.mark.anyio

SENT = "a sign-in link is on its way to it."


async def test_a_link_signs_in_and_the_pages_know_who_you_are(browser: Browser) -> None:
    asked = await browser.ask_for_link(COORD)
    assert asked.status_code == 200 and SENT in asked.text
    with transaction(browser.sessions) as session:
        row = session.scalars(select(OutboxMessage)).one()
        assert (row.kind, row.channel, row.address, row.staff_id) == (
            "sign_in_link",
            "console",
            COORD,
            None,
        )
        assert row.payload["minutes"] == 15
        assert row.payload["link"].startswith("http://127.0.0.1:8000/sign-in/")
    confirm = await browser.http.get(sign_in_links(browser.sessions)[0])
    assert "Sign in to closeloop as <b>Casey Morgan</b>" in confirm.text
    done = await browser.http.post(
        sign_in_links(browser.sessions)[0], data={"csrf_token": csrf_of(confirm.text)}
    )
    assert (done.status_code, done.headers["location"]) == (303, "/referrals")
    cookie = done.headers["set-cookie"]
    assert "closeloop_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # the site is http here; https sites get Secure cookies
    grid = await browser.http.get("/referrals")
    assert grid.status_code == 200 and "Signed in as <b>Casey Morgan</b>" in grid.text
    with transaction(browser.sessions) as session:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.channel == "web").order_by(AuditEvent.id)
        ).all()
        assert [e.action for e in events] == ["sign_in_link_sent", "signed_in"]


async def test_unknown_and_inactive_addresses_get_the_same_answer_and_no_link(
    browser: Browser,
) -> None:
    with transaction(browser.sessions) as session:
        session.execute(update(Staff).where(Staff.email == GK_HOME).values(active=False))
    answers = {
        email: await browser.ask_for_link(email)
        for email in (COORD, "nobody@nowhere.example.org", GK_HOME)
    }
    texts = {r.text.replace(email, "EMAIL") for email, r in answers.items()}
    assert len(texts) == 1 and {r.status_code for r in answers.values()} == {200}
    assert sign_in_links(browser.sessions, "nobody@nowhere.example.org") == []
    assert sign_in_links(browser.sessions, GK_HOME) == []
    assert len(sign_in_links(browser.sessions, COORD)) == 1


async def test_a_malformed_address_is_refused_and_changes_nothing(browser: Browser) -> None:
    with transaction(browser.sessions) as session:
        before = row_counts(session)
    answer = await browser.ask_for_link("casey at coord")
    assert answer.status_code == 422
    assert "That is not an email address." in answer.text
    assert "Enter the work email address your agency registered" in answer.text
    with transaction(browser.sessions) as session:
        assert row_counts(session) == before


async def test_a_link_works_once(browser: Browser) -> None:
    await browser.ask_for_link(COORD)
    link = sign_in_links(browser.sessions)[0]
    assert (await browser.use_link(link)).status_code == 303
    again = await browser.http.get(link)
    assert again.status_code == 400
    assert "This sign-in link was already used: each link opens one session only." in again.text
    second = await browser.http.post(link, data={"csrf_token": await browser.csrf()})
    assert second.status_code == 400 and "already used" in second.text
    with transaction(browser.sessions) as session:
        assert row_counts(session)["web_sessions"] == 1


async def test_a_link_expires_after_fifteen_minutes(browser: Browser, clock: Clock) -> None:
    await browser.ask_for_link(COORD)
    link = sign_in_links(browser.sessions)[0]
    clock.advance(minutes=15, seconds=1)
    late = await browser.http.get(link)
    assert late.status_code == 400
    assert "This sign-in link has expired: links work for 15 minutes." in late.text
    assert "Ask for a new link on the sign-in page." in late.text
    refused = await browser.http.post(link, data={"csrf_token": await browser.csrf()})
    assert refused.status_code == 400
    with transaction(browser.sessions) as session:
        assert row_counts(session)["web_sessions"] == 0


async def test_a_changed_link_is_refused(browser: Browser) -> None:
    await browser.ask_for_link(COORD)
    link = sign_in_links(browser.sessions)[0]
    staff_id, rest = link.removeprefix("/sign-in/").split(".", 1)
    forged = f"/sign-in/{int(staff_id) + 1}.{rest}"
    answer = await browser.http.get(forged)
    assert answer.status_code == 400
    assert "This sign-in link is not one we sent" in answer.text


async def test_forms_without_the_csrf_token_are_refused(browser: Browser) -> None:
    await browser.http.get("/sign-in")  # the browser has the CSRF cookie, not the token
    for data in ({"email": COORD}, {"email": COORD, "csrf_token": "forged"}):
        answer = await browser.http.post("/sign-in", data=data)
        assert answer.status_code == 403
        assert "This form was not sent from a page of this site" in answer.text
    assert sign_in_links(browser.sessions) == []
    # A link pressed from another site's form is not used up.
    await browser.ask_for_link(COORD)
    link = sign_in_links(browser.sessions)[0]
    assert (await browser.http.post(link, data={})).status_code == 403
    assert (await browser.use_link(link)).status_code == 303


async def test_pages_need_a_session(browser: Browser) -> None:
    answer = await browser.http.get("/reports/delays?x=1")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/sign-in?next=%2Freports%2Fdelays%3Fx%3D1"
    browser.http.cookies.set("closeloop_session", "1.abc.123.forged", domain="closeloop.test")
    assert (await browser.http.get("/referrals")).status_code == 303


async def test_after_sign_in_you_land_where_you_were_going_on_this_site_only(
    browser: Browser,
) -> None:
    for wanted, landing in (("/reports", "/reports"), ("https://evil.example/", "/referrals")):
        form = await browser.http.get("/sign-in", params={"next": wanted})
        await browser.http.post(
            "/sign-in", data={"email": COORD, "next": wanted, "csrf_token": csrf_of(form.text)}
        )
        link = sign_in_links(browser.sessions)[-1]
        confirm = await browser.http.get(link, params={"next": wanted})
        done = await browser.http.post(
            link, data={"csrf_token": csrf_of(confirm.text), "next": wanted}
        )
        assert done.headers["location"] == landing


async def test_an_account_made_inactive_is_refused_on_its_next_request(browser: Browser) -> None:
    await browser.sign_in(COORD)
    assert (await browser.http.get("/referrals")).status_code == 200
    with transaction(browser.sessions) as session:
        session.execute(update(Staff).where(Staff.email == COORD).values(active=False))
    refused = await browser.http.get("/referrals")
    assert refused.status_code == 403
    assert "Your closeloop access was removed." in refused.text
    assert "Ask your agency&#39;s security officer if you need it back." in refused.text


async def test_a_revoked_role_stops_showing_at_once(browser: Browser, clock: Clock) -> None:
    number = published(browser.sessions)
    await browser.sign_in(GK_HOME)
    assert number in (await browser.http.get("/referrals")).text
    with transaction(browser.sessions) as session:
        staff = staff_by_email(session, GK_HOME)
        assert staff is not None
        session.execute(
            update(RoleGrant).where(RoleGrant.staff_id == staff.id).values(revoked_at=clock.now)
        )
    grid = await browser.http.get("/referrals")
    assert grid.status_code == 200 and number not in grid.text
    assert (await browser.http.get(f"/referrals/{number}")).status_code == 404


async def test_signing_out_ends_the_session_everywhere(browser: Browser) -> None:
    await browser.sign_in(COORD)
    cookie = browser.http.cookies.get("closeloop_session")
    assert cookie
    out = await browser.sign_out()
    assert out.status_code == 200 and "You are signed out." in out.text
    assert browser.http.cookies.get("closeloop_session") is None
    # A copy of the old cookie no longer works either.
    browser.http.cookies.set("closeloop_session", cookie, domain="closeloop.test")
    assert (await browser.http.get("/referrals")).status_code == 303
    with transaction(browser.sessions) as session:
        assert session.scalars(select(WebSession.ended_at)).one() is not None


async def test_a_session_lasts_its_hours(browser: Browser, clock: Clock) -> None:
    await browser.sign_in(COORD)
    clock.advance(hours=11, minutes=59)
    assert (await browser.http.get("/referrals")).status_code == 200
    clock.advance(minutes=2)
    assert (await browser.http.get("/referrals")).status_code == 303


async def test_a_person_gets_three_links_a_quarter_hour_and_the_page_never_says_so(
    browser: Browser, clock: Clock
) -> None:
    """Anyone can type an address: a loop on the form must not fill the person's inbox, and the
    page must not tell that the address is known by answering differently."""
    answers = [await browser.ask_for_link(COORD) for _ in range(5)]
    assert [(a.status_code, SENT in a.text) for a in answers] == [(200, True)] * 5
    assert len(sign_in_links(browser.sessions)) == 3
    other = await browser.ask_for_link(GK_HOME)  # somebody else is not held back
    assert SENT in other.text
    clock.advance(minutes=15)
    await browser.ask_for_link(COORD)
    with transaction(browser.sessions) as session:
        sent = session.scalars(
            select(OutboxMessage.address)
            .where(OutboxMessage.kind == "sign_in_link")
            .order_by(OutboxMessage.id)
        ).all()
        withheld = session.scalars(
            select(AuditEvent.detail).where(AuditEvent.action == "sign_in_link_withheld")
        ).all()
        coordinator = staff_by_email(session, COORD)
        assert coordinator is not None
    assert sent == [COORD, COORD, COORD, GK_HOME, COORD]
    assert withheld == [{"staff_id": coordinator.id}] * 2
