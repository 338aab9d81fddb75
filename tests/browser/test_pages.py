"""The web pages in a real headless Chromium: sign in by emailed link, search, sort, open a
referral, read a report, download its CSV, sign out. Screenshots land in test-artifacts/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.texts import render_email
from storage.db import transaction
from storage.models import OutboxMessage
from tests.browser.conftest import LiveServer
from tests.conftest import Clock, row_counts
from tests.network import COORD
from tests.web_data import report_referrals

pytestmark = [
    pytest.mark.browser,
    # One engine is enough to drive pages; the queries behind them run on both in service tests.
    pytest.mark.parametrize("engine", ["sqlite"], indirect=True),
]

DELAYS_CSV = (
    "stage,0-7 days,8-30 days,31-60 days,over 60 days,total\n"
    "unassigned,0,0,0,1,1\n"
    '"assigned, no response",1,0,0,0,1\n'
    "tentatively accepted,1,0,0,0,1\n"
    "accepted,0,0,0,1,1\n"
    "declined,0,0,0,1,1\n"
)


def _emailed_link(sessions: sessionmaker[Session], address: str) -> str:
    """The link in the sign-in email, as the person reads it in the plain-text body."""
    with transaction(sessions) as session:
        row = session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.kind == "sign_in_link", OutboxMessage.address == address
            )
        ).one()
        text = render_email(row.kind, row.payload).text
    return next(line.strip() for line in text.splitlines() if "/sign-in/" in line)


def _numbers(page: Any) -> list[str]:
    return [
        cell.strip() for cell in page.locator("#grid tbody tr td:first-child").all_inner_texts()
    ]


def test_a_coordinator_works_the_pages_in_a_browser(
    live_server: LiveServer,
    chromium: Any,
    network: sessionmaker[Session],
    clock: Clock,
    artifacts: Path,
    tmp_path: Path,
) -> None:
    numbers = report_referrals(network, clock)
    context = chromium.new_context(viewport={"width": 1360, "height": 900}, accept_downloads=True)
    page = context.new_page()
    base = live_server.url

    # Signed out, the grid sends you to sign in; the link arrives by email.
    page.goto(f"{base}/referrals")
    assert page.url.startswith(f"{base}/sign-in")
    page.fill("#email", COORD)
    page.click("text=Email me a sign-in link")
    assert page.locator("h1").inner_text() == "Check your email"
    link = _emailed_link(network, COORD)
    assert link.startswith(f"{base}/sign-in/")
    page.goto(link)
    page.click("button:has-text('Sign in')")
    assert page.url == f"{base}/referrals"
    assert "Signed in as Casey Morgan" in page.locator("header").inner_text()

    # The grid: five referral-program rows, the old unanswered one flagged in words.
    assert page.locator("#count").inner_text().startswith("5 referral-program rows match.")
    old_row = page.locator("#grid tbody tr", has_text="Mai Nguyen")
    assert "OVERDUE" in old_row.inner_text() and "OVER 60 DAYS" in old_row.inner_text()
    fresh_row = page.locator("#grid tbody tr", has_text="Ada Abara")
    assert "OVERDUE" not in fresh_row.inner_text()
    page.screenshot(path=str(artifacts / "web-grid.png"), full_page=True)

    # Search by last name, then sort by number both ways.
    page.fill("#f-last_name", "nguyen")
    page.click("button:has-text('Search')")
    assert page.locator("#count").inner_text().startswith("3 referral-program rows match.")
    page.click("#grid th a:has-text('Number')")
    assert _numbers(page) == [numbers["old"], numbers["answered"], numbers["answered"]]
    page.click("#grid th a:has-text('Number')")
    assert _numbers(page) == [numbers["answered"], numbers["answered"], numbers["old"]]
    assert page.locator("#f-last_name").input_value() == "nguyen"

    # Open a referral: client details, each program's response history, the audit trail.
    page.click(f"#grid a:has-text('{numbers['answered']}')")
    assert page.locator("h1").inner_text() == f"Referral {numbers['answered']}"
    body = page.locator("main").inner_text()
    assert "Tuan Nguyen" in body
    assert "no vacancy" in body and "Ozark Behaviour" in body
    assert "client data viewed" in page.locator("#audit").inner_text()

    # A report with its chart, and its CSV.
    page.click("header nav a:has-text('Reports')")
    page.click("text=Delays")
    assert page.locator("figure.chart svg rect").count() == 5
    page.screenshot(path=str(artifacts / "web-report-delays.png"), full_page=True)
    with page.expect_download() as download_info:
        page.click("text=Download CSV")
    download = download_info.value
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    assert download.suggested_filename == "closeloop-delays.csv"
    assert saved.read_text().replace("\r\n", "\n") == DELAYS_CSV

    # Sign out: the session ends, and the grid asks to sign in again.
    page.click("button:has-text('Sign out')")
    assert page.locator("h1").inner_text() == "Signed out"
    page.goto(f"{base}/referrals")
    assert page.url.startswith(f"{base}/sign-in")
    with transaction(network) as session:
        assert row_counts(session)["web_sessions"] == 1
    context.close()
