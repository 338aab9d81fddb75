"""Fixtures for the web pages over httpx: the real app on a real database, signing in by link."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.app import create_app
from bot.runtime import Runtime
from bot.settings import Settings
from storage.db import transaction
from storage.models import OutboxMessage
from tests.conftest import Clock

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def sign_in_links(sessions: sessionmaker[Session], address: str | None = None) -> list[str]:
    """The paths of the sign-in links in the outbox (for `address`), oldest first."""
    with transaction(sessions) as session:
        query = select(OutboxMessage).where(OutboxMessage.kind == "sign_in_link")
        if address:
            query = query.where(OutboxMessage.address == address)
        rows = session.scalars(query.order_by(OutboxMessage.id)).all()
        return [urlsplit(row.payload["link"]).path for row in rows]


class Browser:
    """An HTTP client with a cookie jar, like one person's browser."""

    def __init__(self, http: httpx.AsyncClient, sessions: sessionmaker[Session]) -> None:
        self.http = http
        self.sessions = sessions

    async def csrf(self) -> str:
        """The CSRF token of this browser's forms (any form page shows it)."""
        return csrf_of((await self.http.get("/sign-in")).text)

    async def ask_for_link(self, email: str) -> httpx.Response:
        form = await self.http.get("/sign-in")
        return await self.http.post(
            "/sign-in", data={"email": email, "csrf_token": csrf_of(form.text)}
        )

    async def use_link(self, path: str) -> httpx.Response:
        confirm = await self.http.get(path)
        assert confirm.status_code == 200, confirm.text
        return await self.http.post(path, data={"csrf_token": csrf_of(confirm.text)})

    async def sign_in(self, email: str) -> None:
        assert (await self.ask_for_link(email)).status_code == 200
        response = await self.use_link(sign_in_links(self.sessions, email)[-1])
        assert response.status_code == 303, response.text

    async def sign_out(self) -> httpx.Response:
        page = await self.http.get("/referrals")
        return await self.http.post("/sign-out", data={"csrf_token": csrf_of(page.text)})


@pytest.fixture
async def browser(
    network: sessionmaker[Session], settings: Settings, clock: Clock
) -> AsyncIterator[Browser]:
    runtime = Runtime(settings, clock=clock)
    app = create_app(settings, runtime=runtime)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://closeloop.test") as http:
            yield Browser(http, network)
    finally:
        runtime.close()
