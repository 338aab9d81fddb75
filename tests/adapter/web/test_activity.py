"""A page view is use: the idle rule counts days from it (not only from changes)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from storage.db import transaction
from storage.models import Staff
from tests.adapter.web.conftest import Browser
from tests.conftest import Clock
from tests.network import DANA

pytestmark = pytest.mark.anyio


def _last_use(browser: Browser) -> object:
    with transaction(browser.sessions) as session:
        return session.scalar(select(Staff.last_active_at).where(Staff.email == DANA))


async def test_viewing_a_page_counts_as_use(browser: Browser, clock: Clock) -> None:
    await browser.sign_in(DANA)
    clock.advance(hours=11)
    assert (await browser.http.get("/referrals")).status_code == 200
    assert _last_use(browser) == clock.now
    seen = clock.now
    clock.advance(minutes=5)  # written at most every 15 minutes
    assert (await browser.http.get("/referrals")).status_code == 200
    assert _last_use(browser) == seen
