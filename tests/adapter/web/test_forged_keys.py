"""A production-configured server refuses sign-in links and session cookies made with the
development key (it is in the source), and accepts the previous key during a rotation."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from bot.actors import staff_by_email
from bot.services.sign_in import LINK_PURPOSE, SESSION_PURPOSE
from bot.settings import DEV_SECRET, Settings
from bot.signing import new_nonce, sign
from storage.db import transaction
from tests.adapter.web.conftest import Browser, csrf_of
from tests.conftest import Clock, row_counts
from tests.network import ADMIN

pytestmark = pytest.mark.anyio

PRODUCTION_KEY = "production-key-3b0c1f6e2a9d4c8b7e5f1a2d3c4b5a69"
OLD_KEY = "the-key-before-rotation-7c2e9a4b1d6f3e8a5c0b"


@pytest.fixture
def settings(engine: Engine) -> Settings:
    return Settings(
        database_url=engine.url.render_as_string(hide_password=False),
        secret_key=PRODUCTION_KEY,
        secret_key_previous=OLD_KEY,
    )


def _link(key: str, staff_id: int, clock: Clock) -> str:
    return "/sign-in/" + sign(
        key, LINK_PURPOSE, str(staff_id), new_nonce(), str(int(clock.now.timestamp()))
    )


def _admin_id(browser: Browser) -> int:
    with transaction(browser.sessions) as session:
        admin = staff_by_email(session, ADMIN)
        assert admin is not None
        return admin.id


async def test_a_sign_in_link_forged_with_the_development_key_is_refused(
    browser: Browser, clock: Clock
) -> None:
    forged = _link(DEV_SECRET, _admin_id(browser), clock)

    shown = await browser.http.get(forged)
    assert shown.status_code == 400
    assert "This sign-in link is not one we sent" in shown.text
    used = await browser.http.post(forged, data={"csrf_token": await browser.csrf()})
    assert used.status_code == 400
    assert (await browser.http.get("/referrals")).status_code == 303
    with transaction(browser.sessions) as session:
        assert row_counts(session)["web_sessions"] == 0


async def test_a_session_cookie_forged_with_the_development_key_is_refused(
    browser: Browser, clock: Clock
) -> None:
    cookie = sign(
        DEV_SECRET,
        SESSION_PURPOSE,
        str(_admin_id(browser)),
        new_nonce(),
        str(int(clock.now.timestamp())),
    )
    browser.http.cookies.set("closeloop_session", cookie, domain="closeloop.test")
    answer = await browser.http.get("/referrals")
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/sign-in")


async def test_a_link_signed_with_the_previous_key_still_works_during_a_rotation(
    browser: Browser, clock: Clock
) -> None:
    link = _link(OLD_KEY, _admin_id(browser), clock)

    confirm = await browser.http.get(link)
    assert confirm.status_code == 200, confirm.text
    used = await browser.http.post(link, data={"csrf_token": csrf_of(confirm.text)})
    assert used.status_code == 303
    assert (await browser.http.get("/referrals")).status_code == 200
