"""The pages at a desktop's and a phone's width (390 px): nothing scrolls sideways, tables become
stacked rows on the phone, chart labels are whole. Screenshots land in test-artifacts/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.browser.conftest import LiveServer
from tests.browser.test_pages import _emailed_link
from tests.conftest import Clock
from tests.network import COORD
from tests.web_data import report_referrals

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("engine", ["sqlite"], indirect=True),
]

WIDTHS = {"desktop": (1360, 900), "phone": (390, 844)}

# How far the page can be scrolled sideways (0: not at all), and every chart label whose box
# leaves its chart's box (none: no label is cut).
OVERFLOW = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
CUT_LABELS = """() => [...document.querySelectorAll('figure.chart svg')].flatMap(svg => {
    const box = svg.getBoundingClientRect();
    return [...svg.querySelectorAll('text')].filter(t => {
        const r = t.getBoundingClientRect();
        return r.left < box.left - 0.5 || r.right > box.right + 0.5;
    }).map(t => t.textContent);
})"""


def _sign_in(page: Any, base: str, sessions: sessionmaker[Session]) -> None:
    page.goto(f"{base}/sign-in")
    page.fill("#email", COORD)
    page.click("text=Email me a sign-in link")
    page.goto(_emailed_link(sessions, COORD))
    page.click("button:has-text('Sign in')")
    assert page.url == f"{base}/referrals"


def test_every_page_fits_a_desktop_and_a_phone(
    live_server: LiveServer,
    chromium: Any,
    network: sessionmaker[Session],
    clock: Clock,
    artifacts: Path,
) -> None:
    numbers = report_referrals(network, clock)
    base = live_server.url
    pages = {
        "grid": "/referrals?scope=all",
        "referral": f"/referrals/{numbers['answered']}",
        "report": "/reports/delays",
        "report-outcomes": "/reports/outcomes",
        "error": "/no-such-page",
    }
    signed_in = False
    for device, (width, height) in WIDTHS.items():
        context = chromium.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        if not signed_in:
            _sign_in(page, base, network)
            state = context.storage_state()
            signed_in = True
        else:
            context.close()
            context = chromium.new_context(
                viewport={"width": width, "height": height}, storage_state=state
            )
            page = context.new_page()
        for name, path in pages.items():
            page.goto(f"{base}{path}")
            page.screenshot(path=str(artifacts / f"web-{name}-{device}.png"), full_page=True)
            assert page.evaluate(OVERFLOW) == 0, f"{name} scrolls sideways at {width} px"
            assert page.evaluate(CUT_LABELS) == [], f"{name} cuts chart labels at {width} px"
        # On the phone a table row is a block of stacked values, each under its column's name.
        page.goto(f"{base}/referrals?scope=all")
        row = page.locator("#grid tbody tr").first
        cells = row.locator("td")
        display = cells.first.evaluate("td => getComputedStyle(td).display")
        if device == "phone":
            assert display == "block"
            before = cells.first.evaluate("td => getComputedStyle(td, '::before').content")
            assert before == '"Number"'
            # The sortable headings stay, as a row of links.
            assert page.locator("#grid thead th a:has-text('Age')").is_visible()
        else:
            assert display == "table-cell"
        context.close()
    error = chromium.new_context(viewport={"width": 390, "height": 844}).new_page()
    error.goto(f"{base}/no-such-page")
    assert error.title() == "Not found · closeloop"
    assert error.locator("a:has-text('Go to the referrals')").is_visible()
    error.context.close()
