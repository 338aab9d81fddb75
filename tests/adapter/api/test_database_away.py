"""A database that cannot be reached is answered with a clear 503, not a bare 500."""

from __future__ import annotations

import httpx
import pytest

from bot.app import create_app
from bot.settings import Settings
from tests.servers import free_port

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_an_api_request_meeting_an_unreachable_database_gets_a_503_naming_it() -> None:
    # Nothing listens on the port: every connection is refused, as while PostgreSQL restarts.
    settings = Settings(database_url=f"postgresql://postgres@127.0.0.1:{free_port()}/closeloop")
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://closeloop.test") as http:
        answer = await http.get(
            "/api/v1/referrals", headers={"Authorization": "Bearer not-checked-yet"}
        )
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "30"
    assert answer.json() == {
        "error": "closeloop cannot reach its database right now, so nothing was changed.",
        "field": None,
        "hint": "Please try again in a minute.",
    }
