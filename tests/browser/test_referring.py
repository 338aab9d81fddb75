"""A coordinator's whole referral in Chromium: find the client, meet the likely duplicate and
pick the existing one, record consent, fill the referral form, read the preview with a refused
program and its reason, publish, edit the counties and re-publish, close with an outcome."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.actors import actor_by_email
from bot.domain.vocab import Channel, NeedOutcome, ReferralState
from bot.services import clients
from storage.db import transaction
from storage.models import Client, Consent, OutboxMessage, Referral
from tests.browser.conftest import LiveServer
from tests.browser.test_pages import _emailed_link
from tests.network import COORD, GK_OZARK

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("engine", ["sqlite"], indirect=True),
]


def _go(page: Any, selector: str) -> None:
    """Click what sends a form or follows a link, and wait for the page it leads to (reading
    a list right after a click would otherwise race the navigation)."""
    with page.expect_navigation():
        page.click(selector)


def _known_client(sessions: sessionmaker[Session]) -> int:
    with transaction(sessions) as session:
        return clients.create_client(
            session,
            actor=actor_by_email(session, COORD),
            data={
                "first_name": "María",
                "last_name": "García-López",
                "birth_date": date(1990, 4, 2),
                "address": "12 Main Street",
                "phone": "999-999-9999",
            },
            channel=Channel.API,
        ).id


def test_a_coordinator_refers_from_search_to_close(
    live_server: LiveServer,
    chromium: Any,
    network: sessionmaker[Session],
    artifacts: Path,
) -> None:
    known = _known_client(network)
    context = chromium.new_context(viewport={"width": 1360, "height": 900})
    page = context.new_page()
    base = live_server.url

    page.goto(f"{base}/clients")
    page.fill("#email", COORD)
    _go(page, "text=Email me a sign-in link")
    page.goto(_emailed_link(network, COORD))
    _go(page, "button:has-text('Sign in')")

    # Search first.
    page.goto(f"{base}/clients")
    page.fill("#q", "maria garcia")
    _go(page, "button:has-text('Search')")
    assert page.locator("#clients tbody tr").all_inner_texts() == [
        "María García-López\t1990-04-02\t\t999-999-9999\t"
    ]

    # Creating her again as typed at another desk: the likely duplicate is shown.
    _go(page, "text=New client")
    page.fill("#c-first_name", "Maria")
    page.fill("#c-last_name", "Garcia")
    page.fill("#c-birth_date", "1990-04-02")
    page.fill("#c-address", "12 Main St.")
    page.fill("#c-phone", "999-999-9999")
    _go(page, "button:has-text('Create client')")
    matches = page.locator("#matches")
    assert "This client may already exist." in matches.inner_text()
    assert "first name, last name, birth date, address" in matches.inner_text()
    assert page.input_value("#c-address") == "12 Main St."
    _go(page, "#matches >> text=Use this client")
    assert page.url == f"{base}/clients/{known}"

    # Consent, signed on paper last month.
    page.fill("#k-programs", "heartland-res, ozark-rsp")
    page.check("input[name=info_demographics]")
    page.check("input[name=info_service_needs]")
    page.fill("#k-signed_by", "María García-López")
    page.select_option("#k-method", "uploaded scan")
    page.fill("#k-reference", "SCAN-2026-0042")
    page.fill("#k-signed_on", "2026-02-02")
    _go(page, "button:has-text('Record consent')")
    assert page.locator(".notice").inner_text() == "Consent recorded."
    assert "2027-02-02" in page.locator("#consents").inner_text()

    # The referral form, then the preview: River Housing is refused, with its reason.
    _go(page, "text=Start a referral for this client")
    page.check("input[name=need_RES]")
    page.check("input[name=need_HSG]")
    page.fill("#r-counties", "Boone County")
    page.fill("#r-exclude_programs", "river-hsg")
    page.fill("#r-facility_code", "CMO")
    _go(page, "button:has-text('Save and preview recipients')")
    assert page.locator("#receiving tbody tr td:first-child").all_inner_texts() == [
        "Heartland Residential"
    ]
    refused = page.locator("#refused tbody tr").all_inner_texts()
    assert "River Housing\tRiver Housing Partners\texcluded by family preference\tnot stated" in (
        refused
    )
    assert "María" not in page.locator("main").inner_text()
    page.screenshot(path=str(artifacts / "referring-preview.png"), full_page=True)
    _go(page, "button:has-text('Publish')")
    assert page.locator(".notice").inner_text() == "Published."
    number = page.locator("h1").inner_text().split()[0]

    # Edit the counties and re-publish: Ozark Respite joins, Heartland Residential leaves.
    _go(page, "text=Edit")
    assert page.input_value("#r-counties") == "Boone County"
    page.fill("#r-counties", "Greene County")
    _go(page, "button:has-text('Save and re-publish')")
    assert page.locator(".notice").inner_text() == (
        "Saved and re-published to 1 program(s). Newly receiving: Ozark Respite. "
        "No longer receiving: Heartland Residential."
    )

    # Close with the need's outcome (the referral page's close verb; a reason is asked for
    # when the need was not fully met).
    page.select_option("#x-outcome", "partially met")
    _go(page, "button:has-text('Close')")
    assert "Say why the need was not fully met." in page.locator("main").inner_text()
    page.go_back()
    page.select_option("#x-outcome", "partially met")
    page.fill("#x-reason", "moved away")
    _go(page, "button:has-text('Close')")
    page.screenshot(path=str(artifacts / "referring-closed.png"), full_page=True)
    context.close()

    with transaction(network) as session:
        referral = session.scalar(select(Referral).where(Referral.number == number))
        assert referral is not None
        assert (referral.state, referral.outcome, referral.outcome_reason) == (
            ReferralState.CLOSED,
            NeedOutcome.PARTIALLY_MET,
            "moved away",
        )
        assert [c.name for c in referral.counties] == ["Greene County"]
        assert len(session.scalars(select(Client)).all()) == 1
        [consent] = session.scalars(select(Consent)).all()
        assert consent.signed_at.date() == date(2026, 2, 2)
        told = session.scalars(
            select(OutboxMessage.kind).where(OutboxMessage.address == GK_OZARK)
        ).all()
        assert told == ["referral_republished", "referral_closed"]
