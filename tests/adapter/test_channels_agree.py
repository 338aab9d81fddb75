"""One command seam: the same assign, respond, status and note done from Slack text, a Slack
button (or its modal), an email reply, the web referral page's form and the API leave the same
audit events and the same state, apart from the channel they name.

Each channel works on its own freshly published referral, as the gatekeeper of the program that
receives it (a gatekeeper may assign, respond, set the status and add notes).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from bot.app import create_app
from bot.runtime import Runtime
from bot.settings import Settings
from handlers.api.tokens import issue_token
from handlers.slack.blocks import (
    ASSIGN,
    COMMENT_BLOCK,
    NOTE_BLOCK,
    NOTE_MODAL,
    REASON_BLOCK,
    RESPOND_MODAL,
    STATUS,
    Target,
)
from handlers.slack.blocks import encode as encode_target
from storage.db import transaction
from storage.models import AuditEvent, Note, Recipient, Referral, Staff
from tests.adapter.email.channel import EmailChannel
from tests.adapter.email.conftest import (  # noqa: F401 - fixtures used by this module
    dovecot,
    dovecot_server,
    mail_settings,
    smtp_server,
)
from tests.adapter.email.mail import plain_reply
from tests.adapter.slack.conftest import fake_slack  # noqa: F401 - a fixture
from tests.adapter.web.conftest import Browser, csrf_of
from tests.conftest import Clock
from tests.fakes import slack_requests
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import SIGNING_SECRET
from tests.network import DANA, GK_HOME
from tests.servers.dovecot import Mailbox
from tests.servers.smtp import SmtpServer
from tests.service.helpers import published

pytestmark = [pytest.mark.anyio, pytest.mark.dovecot]

GRACE_SLACK = "U0GRACE"
PROGRAM = "heartland-res"
# The web page shows the client again after the form is sent: a read, audited as such.
READS = {"client_data_viewed"}

# What each verb is, as each channel says it.
SAID = {
    "assign": {
        "slack text": f"assign {{n}} {DANA}",
        "email": f"assign {DANA}",
        "web": {"provider": DANA},
        "api": {"provider": DANA},
    },
    "respond": {
        "slack text": "decline {n} no vac beds full",
        "email": "decline no vacancy: beds full",
        "web": {"response": "decline", "reason_decline": "no vacancy", "comment": "beds full"},
        "api": {"response": "decline", "reason": "no vac", "comment": "beds full"},
    },
    "status": {
        "slack text": "status {n} enrolled",
        "email": "status enrolled",
        "web": {"status": "enrolled in services"},
        "api": {"status": "enrolled"},
    },
    "notes": {
        "slack text": "note {n} left a voicemail",
        "email": "note left a voicemail",
        "web": {"text": "left a voicemail"},
        "api": {"text": "left a voicemail"},
    },
}
CHANNELS = ["slack text", "slack button", "email", "web", "api"]


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
    return mail_settings(engine, smtp_url=smtp_server.url(), imap_url=dovecot.imap_url).model_copy(
        update={
            "slack_bot_token": fake_slack.token,
            "slack_signing_secret": SIGNING_SECRET,
            "slack_api_url": fake_slack.base_url,
        }
    )


class Channels:
    """Grace's ways in: Slack, an email reply, a web session and an API token."""

    def __init__(self, runtime: Runtime, mail: EmailChannel, fake: FakeSlack) -> None:
        self.runtime = runtime
        self.sessions = runtime.sessions
        self.app = create_app(runtime.settings, runtime=runtime)
        self.mail = mail
        self.fake = fake
        with transaction(self.sessions) as session:
            self.token = issue_token(session, email=GK_HOME)
        self.browser = Browser(
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=self.app), base_url="https://closeloop.test"
            ),
            self.sessions,
        )

    async def _post(self, path: str, **kwargs: Any) -> httpx.Response:
        transport = httpx.ASGITransport(app=self.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://closeloop.test") as http:
            return await http.post(path, **kwargs)

    async def slack_text(self, verb: str, number: str) -> None:
        text = SAID[verb]["slack text"].format(n=number)  # type: ignore[union-attr]
        seen = len(self.fake.responses())
        body, headers = slack_requests.slash_command(
            text=text, user_id=GRACE_SLACK, response_url=self.fake.hook_url(f"c/{seen}")
        )
        assert (await self._post("/slack/events", content=body, headers=headers)).status_code == 200
        await _until(lambda: len(self.fake.responses()) > seen)
        said = str(self.fake.responses()[-1].params["text"])
        assert not said.startswith(("Nothing", "Something")), said

    async def slack_button(self, verb: str, number: str) -> None:
        if verb == "assign":
            with transaction(self.sessions) as session:
                dana = session.scalar(select(Staff.id).where(Staff.email == DANA))
            option = {"value": encode_target(Target(number, PROGRAM, dana)), "text": {}}
            body, headers = slack_requests.block_actions(
                GRACE_SLACK, ASSIGN, selected_option=option
            )
        elif verb == "respond":
            # Decline opens the modal; what it sends back carries the referral it was opened for.
            metadata = json.dumps({"n": number, "p": PROGRAM, "k": "decline"})
            values = {
                REASON_BLOCK: {REASON_BLOCK: {"selected_option": {"value": "no vacancy"}}},
                COMMENT_BLOCK: {COMMENT_BLOCK: {"value": "beds full"}},
            }
            body, headers = slack_requests.view_submission(
                GRACE_SLACK, RESPOND_MODAL, metadata, values
            )
        elif verb == "status":
            target = Target(number, PROGRAM, choice="ENROLLED")
            option = {"value": encode_target(target), "text": {}}
            body, headers = slack_requests.block_actions(
                GRACE_SLACK, STATUS, selected_option=option
            )
        else:
            # Add note opens the modal; what it sends back carries the referral.
            metadata = json.dumps({"n": number, "p": PROGRAM, "k": "note"})
            values = {NOTE_BLOCK: {NOTE_BLOCK: {"value": "left a voicemail"}}}
            body, headers = slack_requests.view_submission(
                GRACE_SLACK, NOTE_MODAL, metadata, values
            )
        before = _events(self.sessions, number)
        assert (await self._post("/slack/events", content=body, headers=headers)).status_code == 200
        await _until(lambda: len(_events(self.sessions, number)) > len(before))

    async def email(self, verb: str, number: str) -> None:
        [notice] = [
            m
            for m in self.mail.deliver()
            if m.rcpt_tos == (GK_HOME,) and number in str(m.message["Subject"])
        ]
        assert self.mail.receive(plain_reply(notice, str(SAID[verb]["email"]))) == 1
        assert self.mail.inbound()[-1] == ("processed", "applied")

    async def web(self, verb: str, number: str) -> None:
        page = await self.browser.http.get(f"/referrals/{number}")
        assert page.status_code == 200, page.text
        form = {**SAID[verb]["web"], "program": PROGRAM, "csrf_token": csrf_of(page.text)}  # type: ignore[dict-item]
        if verb == "assign":
            with transaction(self.sessions) as session:
                form["provider"] = str(session.scalar(select(Staff.id).where(Staff.email == DANA)))
        answer = await self.browser.http.post(f"/referrals/{number}/{verb}", data=form)
        assert answer.status_code == 200, answer.text
        assert 'role="status"' in answer.text

    async def api(self, verb: str, number: str) -> None:
        answer = await self._post(
            f"/api/v1/referrals/{number}/{verb}",
            json=SAID[verb]["api"],
            headers={"Authorization": f"Bearer {self.token}"},
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["changed"] is True


def _events(sessions: sessionmaker[Session], number: str) -> list[tuple[Any, ...]]:
    """The referral's audit events since publication, without the channel they name."""
    with transaction(sessions) as session:
        referral = session.scalar(select(Referral).where(Referral.number == number))
        assert referral is not None
        rows = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.referral_id == referral.id, AuditEvent.action.not_in(READS))
            .order_by(AuditEvent.id)
        )
        return [
            (e.action, e.actor_id, e.program_id, e.client_id, e.detail, e.channel) for e in rows
        ]


def _state(sessions: sessionmaker[Session], number: str) -> tuple[Any, ...]:
    with transaction(sessions) as session:
        recipient = session.scalar(
            select(Recipient).join(Referral).where(Referral.number == number)
        )
        assert recipient is not None
        notes = session.scalars(select(Note.text).where(Note.recipient_id == recipient.id)).all()
        return (
            recipient.assignee_id,
            recipient.response,
            recipient.response_reason,
            recipient.response_comment,
            recipient.service_status,
            list(notes),
        )


async def _until(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out waiting for the Slack listener"
        await asyncio.sleep(0.01)


@pytest.fixture
def channels(
    settings: Settings,
    clock: Clock,
    network: sessionmaker[Session],
    smtp_server: SmtpServer,  # noqa: F811
    dovecot: Mailbox,  # noqa: F811
    fake_slack: FakeSlack,  # noqa: F811
) -> Iterator[Channels]:
    fake_slack.add_user(GRACE_SLACK, GK_HOME, "Grace Hall")
    runtime = Runtime(settings, clock=clock)
    mail = EmailChannel(runtime, dovecot, smtp_server.recorder)
    yield Channels(runtime, mail, fake_slack)
    mail.close()


@pytest.mark.parametrize("verb", ["assign", "respond", "status", "notes"])
@pytest.mark.parametrize("channel", CHANNELS)
async def test_every_channel_leaves_the_same_audit_events(
    channels: Channels, network: sessionmaker[Session], verb: str, channel: str
) -> None:
    """Done by `channel`, and by the API on another referral: the same events and state."""
    await channels.browser.sign_in(GK_HOME)
    channels.mail.deliver()
    done: dict[str, tuple[Any, ...]] = {}
    for way in (channel, "api"):
        number = published(network)
        start = len(_events(channels.sessions, number))
        act: Callable[[str, str], Awaitable[None]] = getattr(channels, way.replace(" ", "_"))
        await act(verb, number)
        events = _events(channels.sessions, number)[start:]
        assert events, f"{way} recorded nothing"
        assert {e[-1] for e in events} == {"slack" if way.startswith("slack") else way}
        done[way] = ([e[:-1] for e in events], _state(channels.sessions, number))
    assert done[channel] == done["api"]
    await channels.browser.http.aclose()
