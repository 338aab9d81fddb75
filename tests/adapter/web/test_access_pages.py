"""The access pages: a person asks for a role, the agency's security officer approves or denies
it and reviews the agency's roles, all through the same use cases as Slack."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.app import create_app
from bot.runtime import Runtime
from bot.settings import Settings
from storage.db import transaction
from storage.models import AccessRequest, AuditEvent, OutboxMessage, RoleGrant, Staff
from tests.adapter.web.conftest import Browser, csrf_of
from tests.conftest import Clock
from tests.network import DANA, GK_HOME, OFFICER

pytestmark = pytest.mark.anyio


async def _browser(network: sessionmaker[Session], settings: Settings, clock: Clock) -> Browser:
    runtime = Runtime(settings, clock=clock)
    app = create_app(settings, runtime=runtime)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://c.test")
    return Browser(http, network)


async def _post(browser: Browser, path: str, **fields: str) -> httpx.Response:
    form = await browser.http.get("/access")
    return await browser.http.post(path, data={"csrf_token": csrf_of(form.text), **fields})


def _gatekeeper_grants(sessions: sessionmaker[Session], email: str) -> int:
    with transaction(sessions) as s:
        return len(
            s.scalars(
                select(RoleGrant)
                .join(Staff, Staff.id == RoleGrant.staff_id)
                .where(
                    Staff.email == email,
                    RoleGrant.role == "gatekeeper",
                    RoleGrant.revoked_at.is_(None),
                )
            ).all()
        )


async def test_ask_on_the_web_then_the_officer_approves_on_the_web(
    network: sessionmaker[Session], settings: Settings, clock: Clock
) -> None:
    dana = await _browser(network, settings, clock)
    helen = await _browser(network, settings, clock)
    async with dana.http, helen.http:
        await dana.sign_in(DANA)
        asked = await _post(dana, "/access/requests", role="gate", program="Heartland Res")
        assert asked.status_code == 200
        assert (
            "Asked to be a gatekeeper of Heartland Residential; your agency&#39;s security "
            "officer has been told." in asked.text
        )

        await helen.sign_in(OFFICER)
        queue = await helen.http.get("/access")
        assert "Dana Ruiz" in queue.text and "Approve" in queue.text
        with transaction(network) as s:
            request_id = s.scalar(select(AccessRequest.id))
        assert _gatekeeper_grants(network, DANA) == 0

        decided = await _post(helen, f"/access/requests/{request_id}", decision="approve")
        assert decided.status_code == 200
        assert "was approved by Helen Ward" in decided.text
        assert "No request is waiting." in decided.text
        assert _gatekeeper_grants(network, DANA) == 1

        # A second click on a stale page says what happened and changes nothing.
        again = await _post(helen, f"/access/requests/{request_id}", decision="deny")
        assert again.status_code == 200
        assert "approved" in again.text
        assert _gatekeeper_grants(network, DANA) == 1

        roles = await helen.http.get("/access/roles")
        assert roles.status_code == 200
        rows = re.findall(r"<tr><td>([^<]+)</td><td>[^<]+</td><td>([^<]+)</td>", roles.text)
        assert ("Dana Ruiz", "gatekeeper") in rows
        assert ("Helen Ward", "security officer") in rows

    with transaction(network) as s:
        actions = list(s.scalars(select(AuditEvent.action).where(AuditEvent.channel == "web")))
        kinds = list(s.scalars(select(OutboxMessage.kind).order_by(OutboxMessage.id)))
    assert [a for a in actions if a.startswith("access_")] == [
        "access_requested",
        "access_approved",
    ]
    assert kinds.count("access_requested") == 1 and kinds.count("access_decided") == 1


async def test_refusals_on_the_access_pages_say_why_and_change_nothing(
    network: sessionmaker[Session], settings: Settings, clock: Clock
) -> None:
    grace = await _browser(network, settings, clock)
    async with grace.http:
        await grace.sign_in(GK_HOME)
        page = await grace.http.get("/access")
        assert "Waiting for your decision" not in page.text  # not a security officer
        with transaction(network) as s:
            before = len(s.scalars(select(AccessRequest)).all())

        wrong_role = await _post(grace, "/access/requests", role="admin", program="heartland-res")
        assert wrong_role.status_code == 422
        assert "Heartland Residential does not offer the admin role" in wrong_role.text
        review = await grace.http.get("/access/roles", params={"agency": "heartland"})
        assert review.status_code == 403
        revoke = await _post(grace, "/access/revoke", email=DANA)
        assert revoke.status_code == 403

        with transaction(network) as s:
            assert len(s.scalars(select(AccessRequest)).all()) == before
            assert s.scalar(select(Staff.active).where(Staff.email == DANA)) is True
