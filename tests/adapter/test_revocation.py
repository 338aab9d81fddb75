"""Revocation takes effect everywhere at once: after a security officer removes a person's
access, the same person's Slack command, email reply (with a still valid reply token) and API
token and web session are all refused with the same clear message, and nothing changes.

Each channel is one method of `Everywhere` returning what the person was told.
"""

from __future__ import annotations

import asyncio
import html
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from bot.actors import actor_by_email
from bot.app import create_app
from bot.domain.vocab import Channel
from bot.runtime import Runtime
from bot.services import work
from bot.settings import Settings
from handlers.api.tokens import issue_token
from storage.db import transaction
from storage.models import Recipient, Referral
from tests.adapter.email.channel import EmailChannel, only
from tests.adapter.email.conftest import (  # noqa: F401 - fixtures used by this module
    dovecot,
    dovecot_server,
    mail_settings,
    smtp_server,
)
from tests.adapter.email.mail import plain_reply
from tests.adapter.slack.conftest import fake_slack  # noqa: F401 - a fixture
from tests.adapter.web.conftest import Browser
from tests.conftest import Clock
from tests.fakes import slack_requests
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import SIGNING_SECRET
from tests.network import LEE, OFFICER
from tests.servers.dovecot import Mailbox
from tests.servers.smtp import ReceivedMessage, SmtpServer
from tests.service.helpers import published

pytestmark = [pytest.mark.anyio, pytest.mark.dovecot]

REMOVED = (
    "Your closeloop access was removed on 2026-03-02. Ask your agency's security officer if "
    "you need it back."
)
# What a refused attempt may leave: the record of the email read and the answers written.
BOOKKEEPING = {"inbound_emails", "outbox"}
LEE_SLACK = "U0LEE"
HELEN_SLACK = "U0HELEN"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def settings(
    engine: Engine,
    smtp_server: SmtpServer,  # noqa: F811
    dovecot: Mailbox,  # noqa: F811
    fake_slack: FakeSlack,  # noqa: F811
) -> Settings:
    """Every channel on: SMTP out, IMAP in, Slack (the fake), and the API of the web app."""
    return mail_settings(engine, smtp_url=smtp_server.url(), imap_url=dovecot.imap_url).model_copy(
        update={
            "slack_bot_token": fake_slack.token,
            "slack_signing_secret": SIGNING_SECRET,
            "slack_api_url": fake_slack.base_url,
        }
    )


class Everywhere:
    """One person's ways in: Slack, an email reply, an API token and a web session."""

    def __init__(
        self, runtime: Runtime, mail: EmailChannel, fake: FakeSlack, number: str, notice: Any
    ) -> None:
        self.runtime = runtime
        self.sessions = runtime.sessions
        self.app = create_app(runtime.settings, runtime=runtime)
        self.mail = mail
        self.fake = fake
        self.number = number
        self.notice: ReceivedMessage = notice
        with transaction(self.sessions) as session:
            self.api_token = issue_token(session, email=LEE)
        self.browser = Browser(
            httpx.AsyncClient(
                # The email settings give the site an https address, so its cookies are Secure.
                transport=httpx.ASGITransport(app=self.app),
                base_url="https://closeloop.test",
            ),
            self.sessions,
        )

    async def open_web_session(self) -> None:
        """Lee signs in on the web (by the emailed link) while he still has access."""
        await self.browser.sign_in(LEE)
        assert (await self.browser.http.get("/referrals")).status_code == 200
        [link] = self.mail.deliver()
        assert link.rcpt_tos == (LEE,)

    async def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        transport = httpx.ASGITransport(app=self.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://closeloop.test") as http:
            return await http.request(method, path, **kwargs)

    async def slack_command(self, user: str, text: str) -> str:
        hook = f"commands/{user}/{len(self.fake.responses())}"
        body, headers = slack_requests.slash_command(
            text=text, user_id=user, response_url=self.fake.hook_url(hook)
        )
        seen = len(self.fake.responses())
        answer = await self._call("POST", "/slack/events", content=body, headers=headers)
        assert answer.status_code == 200
        await _until(lambda: len(self.fake.responses()) > seen)
        return str(self.fake.responses()[-1].params["text"])

    async def slack(self) -> str:
        return await self.slack_command(LEE_SLACK, f"accept {self.number}")

    async def email(self) -> str:
        assert self.mail.receive(plain_reply(self.notice, "accept")) == 1
        [answer] = self.mail.deliver()
        assert answer.rcpt_tos == (LEE,)
        body = answer.message.get_body(preferencelist=("plain",))
        assert body is not None
        text = body.get_content()
        assert "Put one command on the first line" not in text
        why = next(line for line in text.splitlines() if line.startswith("Why: "))
        hint = text.splitlines()[text.splitlines().index(why) + 1]
        return f"{why.removeprefix('Why: ')} {hint}"

    async def api(self) -> str:
        headers = {"Authorization": f"Bearer {self.api_token}"}
        path = f"/api/v1/referrals/{self.number}/pending"
        answer = await self._call("POST", path, headers=headers)
        assert answer.status_code == 403, answer.text
        error = answer.json()
        return f"{error['error']} {error['hint']}"

    async def web(self) -> str:
        answer = await self.browser.http.get(f"/referrals/{self.number}")
        assert answer.status_code == 403, answer.text
        found = re.search(r'role="alert"><p><b>(.*?)</b></p><p>(.*?)</p>', answer.text)
        assert found, answer.text
        return html.unescape(f"{found.group(1)} {found.group(2)}")


CHANNELS = ["slack", "email", "api", "web"]


async def _until(check: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out waiting for the Slack listener"
        await asyncio.sleep(0.01)


def _first_line(received: Any) -> str:
    body = received.message.get_body(preferencelist=("plain",))
    return str(body.get_content()).splitlines()[0] if body is not None else ""


@pytest.fixture
def everywhere(
    settings: Settings,
    clock: Clock,
    network: sessionmaker[Session],
    smtp_server: SmtpServer,  # noqa: F811
    dovecot: Mailbox,  # noqa: F811
    fake_slack: FakeSlack,  # noqa: F811
) -> Iterator[Everywhere]:
    fake_slack.add_user(LEE_SLACK, LEE, "Lee Park")
    fake_slack.add_user(HELEN_SLACK, OFFICER, "Helen Ward")
    runtime = Runtime(settings, clock=clock)
    mail = EmailChannel(runtime, dovecot, smtp_server.recorder)
    number = published(network)
    with transaction(network) as session:
        # Lee holds the referral, so he has a notification (with a reply token) to answer.
        work.assign_referral(
            session,
            actor=actor_by_email(session, "grace@heartland.example.org"),
            number=number,
            provider=LEE,
            channel=Channel.API,
        )
    # Every email about the referral has its subject; what happened opens the body.
    assigned = [m for m in mail.deliver() if "assigned" in _first_line(m)]
    notice = only(assigned, LEE)
    everywhere = Everywhere(runtime, mail, fake_slack, number, notice)
    yield everywhere
    mail.close()


def _state(everywhere: Everywhere) -> tuple[dict[str, int], list[tuple[Any, ...]]]:
    counts = {k: v for k, v in everywhere.mail.counts().items() if k not in BOOKKEEPING}
    with transaction(everywhere.sessions) as session:
        rows = session.execute(
            select(Recipient.assignee_id, Recipient.response, Recipient.response_version)
            .join(Referral)
            .where(Referral.number == everywhere.number)
        ).all()
    return counts, [tuple(r) for r in rows]


async def test_revocation_takes_effect_everywhere_at_once(everywhere: Everywhere) -> None:
    await everywhere.open_web_session()
    said = await everywhere.slack_command(HELEN_SLACK, f"access revoke {LEE} left the agency")
    assert said.startswith("Lee Park's access is removed from now on: 2 role(s) and 1 API token(s)")
    # He is told, once per channel; then every way in is tried.
    [removed] = everywhere.mail.deliver()
    assert removed.rcpt_tos == (LEE,)
    assert removed.message["Subject"] == "[closeloop] your access was removed"
    assert any(
        "access was removed" in m["text"]
        for m in everywhere.fake.conversation(everywhere.fake.dm_channel(LEE_SLACK) or "")
    )
    before = _state(everywhere)

    told = {name: await getattr(everywhere, name)() for name in CHANNELS}

    assert told == dict.fromkeys(CHANNELS, REMOVED)
    assert _state(everywhere) == before
    assert everywhere.mail.inbound()[-1] == ("rejected", "access_removed")
    await everywhere.browser.http.aclose()
