"""Daily use of the pages: local times, sort arrows that match the order, HTML error pages."""

from __future__ import annotations

import re

import pytest

from tests.adapter.web.conftest import Browser
from tests.conftest import Clock
from tests.network import COORD
from tests.web_data import report_referrals

pytestmark = pytest.mark.anyio

AGE_CELL = re.compile(r'<td class="num" data-label="Age">(\d+) d</td>')


def _sort_of(html: str, heading: str) -> str:
    found = re.search(rf'<th scope="col" aria-sort="(\w+)"[^>]*><a [^>]*>{heading}</a>', html)
    assert found, f"no sortable {heading} heading"
    return found.group(1)


async def test_times_on_the_referral_page_are_the_networks_local_time(
    browser: Browser, clock: Clock
) -> None:
    numbers = report_referrals(browser.sessions, clock)
    await browser.sign_in(COORD)
    page = await browser.http.get(f"/referrals/{numbers['fresh']}")
    assert page.status_code == 200
    # 2026-03-09 15:00 UTC is 10:00 in Missouri (daylight time began on 8 March).
    assert "2026-03-09 10:00 CDT" in page.text
    assert " UTC" not in page.text


async def test_the_sort_arrows_say_how_the_values_run_down_the_page(
    browser: Browser, clock: Clock
) -> None:
    report_referrals(browser.sessions, clock)
    await browser.sign_in(COORD)
    oldest_first = (await browser.http.get("/referrals?scope=all")).text
    ages = [int(a) for a in AGE_CELL.findall(oldest_first)]
    assert ages == sorted(ages, reverse=True) and ages[0] > ages[-1]
    assert _sort_of(oldest_first, "Age") == "descending"
    newest_first = (await browser.http.get("/referrals?scope=all&sort=age&desc=1")).text
    ages = [int(a) for a in AGE_CELL.findall(newest_first)]
    assert ages == sorted(ages) and ages[0] < ages[-1]
    assert _sort_of(newest_first, "Age") == "ascending"
    by_number = (await browser.http.get("/referrals?scope=all&sort=number")).text
    numbers = re.findall(r'<a href="/referrals/(R-[\d-]+)">', by_number)
    assert numbers == sorted(numbers)
    assert _sort_of(by_number, "Number") == "ascending"
    assert _sort_of(by_number, "Age") == "none"


async def test_an_unknown_page_is_an_html_not_found_page_with_a_way_back(
    browser: Browser,
) -> None:
    signed_out = await browser.http.get("/no-such-page")
    assert signed_out.status_code == 404
    assert signed_out.headers["content-type"].startswith("text/html")
    assert "<title>Not found · closeloop</title>" in signed_out.text
    assert "There is no page at /no-such-page." in signed_out.text
    assert '<a href="/referrals">Go to the referrals</a>' in signed_out.text
    api = await browser.http.get("/api/v1/no-such-thing")
    assert (api.status_code, api.headers["content-type"]) == (404, "application/json")
    await browser.sign_in(COORD)
    missing = await browser.http.get("/referrals/R-2026-999999")
    assert missing.status_code == 404
    assert "<title>Not found · closeloop</title>" in missing.text
    assert '<a href="/referrals">Back to the referrals</a>' in missing.text
