"""An EHR's referral (FHIR) accepted by a gatekeeper's email reply: the Task reads accepted.
Real servers: Dovecot (IMAP in), aiosmtpd (SMTP out), the real app over ASGI."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from bot.app import create_app
from bot.settings import Settings
from handlers.api.tokens import issue_token
from storage.db import transaction
from storage.models import Recipient
from tests.adapter.api.test_fhir_reads import valid
from tests.adapter.api.test_fhir_writes import ehr_bundle
from tests.adapter.email.channel import EmailChannel, only
from tests.adapter.email.mail import plain_reply
from tests.network import COORD, GK_HOME, STATEWIDE_COORD

pytestmark = pytest.mark.dovecot


@pytest.fixture
def settings(loop_settings: Settings) -> Settings:
    return loop_settings


def _fhir(
    channel: EmailChannel, settings: Settings, email: str, method: str, path: str, **kw: Any
) -> httpx.Response:
    with transaction(channel.runtime.sessions) as session:
        token = issue_token(session, email=email)
    app = create_app(settings, runtime=channel.runtime)

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://closeloop.test") as http:
            return await http.request(
                method,
                f"/fhir{path}",
                headers={
                    "Authorization": f"Bearer {token}",
                    "Content-Type": "application/fhir+json",
                },
                **kw,
            )

    return asyncio.run(call())


def test_an_ehr_referral_accepted_by_email_reads_accepted_in_the_task(
    channel: EmailChannel, settings: Settings
) -> None:
    created = _fhir(channel, settings, COORD, "POST", "", content=json.dumps(ehr_bundle()))
    assert created.status_code == 200, created.text
    task_id = int(created.json()["entry"][2]["response"]["location"].split("/")[1])
    assert valid(_fhir(channel, settings, COORD, "GET", f"/Task/{task_id}").json())["status"] == (
        "requested"
    )

    # Publishing emailed the program's gatekeeper (and the county's coordinators).
    sent = channel.deliver()
    assert sorted(m.rcpt_tos[0] for m in sent) == sorted([GK_HOME, STATEWIDE_COORD])
    notice = only(sent, GK_HOME)
    # Minimum necessary: the EHR's patient is not named in the email.
    assert "Okafor" not in notice.raw.decode()

    # The gatekeeper answers "accept" by replying; the inbox listener applies it.
    assert channel.receive(plain_reply(notice, "accept", name="Grace Holt")) == 1
    with transaction(channel.runtime.sessions) as session:
        recipient = session.get(Recipient, task_id)
        assert recipient is not None
        assert [(v.kind.value, v.channel) for v in recipient.responses] == [("accept", "email")]

    task = valid(_fhir(channel, settings, COORD, "GET", f"/Task/{task_id}").json())
    assert task["status"] == "accepted"
    assert task["owner"]["reference"] == "Organization/heartland-res"
