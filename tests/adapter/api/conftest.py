"""Fixtures for the API tests: the real app on a real database, and a token per staff member."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.app import create_app
from bot.runtime import Runtime
from bot.settings import Settings
from handlers.api.tokens import issue_token
from storage.db import transaction
from tests.conftest import Clock


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Api:
    """An HTTP client on the app, calling as whoever `as_` names."""

    def __init__(self, http: httpx.AsyncClient, sessions: sessionmaker[Session]) -> None:
        self.http = http
        self.sessions = sessions
        self._tokens: dict[str, str] = {}

    def token(self, email: str) -> str:
        """One token per person (issuing one is an audited change of its own)."""
        if email not in self._tokens:
            with transaction(self.sessions) as session:
                self._tokens[email] = issue_token(session, email=email)
        return self._tokens[email]

    def as_(self, email: str) -> Callable[..., Any]:
        headers = {"Authorization": f"Bearer {self.token(email)}"}

        async def call(method: str, path: str, **kwargs: Any) -> httpx.Response:
            return await self.http.request(method, f"/api/v1{path}", headers=headers, **kwargs)

        return call

    def as_fhir(self, email: str) -> Callable[..., Any]:
        """The same, under /fhir (FHIR bodies as application/fhir+json)."""
        headers = {
            "Authorization": f"Bearer {self.token(email)}",
            "Content-Type": "application/fhir+json",
        }

        async def call(method: str, path: str, **kwargs: Any) -> httpx.Response:
            return await self.http.request(method, f"/fhir{path}", headers=headers, **kwargs)

        return call


@pytest.fixture
async def api(
    network: sessionmaker[Session], settings: Settings, clock: Clock
) -> AsyncIterator[Api]:
    runtime = Runtime(settings, clock=clock)
    app = create_app(settings, runtime=runtime)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://closeloop.test") as http:
            yield Api(http, network)
    finally:
        runtime.close()
