"""A whole loop (publish, assign and respond by email reply, sign in by link) leaves nothing
secret or client-identifying in the logs: no reply token, link, client name or email body."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from bot import logs
from bot.app import create_app
from bot.runtime import Runtime
from bot.settings import Settings
from handlers.email.tokens import token_from_address
from storage.db import transaction
from storage.models import Client, Referral
from tests.adapter.email.channel import EmailChannel, only
from tests.adapter.email.conftest import SECRET, mail_settings
from tests.adapter.email.mail import plain_reply
from tests.adapter.web.conftest import csrf_of
from tests.conftest import Clock
from tests.network import COORD, DANA, GK_HOME
from tests.servers.dovecot import Mailbox
from tests.servers.smtp import ReceivedMessage, SmtpServer
from tests.service.helpers import new_client, published

pytestmark = pytest.mark.dovecot

COMMENT = "waiting on the mother's call back about Tuesday"
LINK = re.compile(r"https?://\S+/sign-in/\S+")


@pytest.fixture
def settings(engine: Engine, smtp_server: SmtpServer, dovecot: Mailbox) -> Settings:
    return mail_settings(engine, smtp_url=smtp_server.url(), imap_url=dovecot.imap_url)


@pytest.fixture
def logged(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every record at the level the processes run at (INFO), and ours down to DEBUG, scrubbed
    as `closeloop` scrubs them."""
    logs.install()
    caplog.set_level(logging.INFO)
    for ours in ("bot", "handlers", "storage"):
        caplog.set_level(logging.DEBUG, logger=ours)
    yield caplog
    logs.uninstall()


def _body(message: ReceivedMessage) -> str:
    plain = message.message.get_body(preferencelist=("plain",))
    assert plain is not None
    return str(plain.get_content())


def _sign_in(settings: Settings, runtime: Runtime, channel: EmailChannel, number: str) -> str:
    """Ask for a link on the web, take it from the email, use it, read the referral's page
    (the client's name on it); the link."""
    app = create_app(settings, runtime=runtime)

    async def go() -> str:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="https://closeloop.test"
        ) as http:
            form = await http.get("/sign-in")
            asked = await http.post(
                "/sign-in", data={"email": COORD, "csrf_token": csrf_of(form.text)}
            )
            assert asked.status_code == 200
            [mail] = channel.deliver()
            found = LINK.search(_body(mail))
            assert found is not None
            path = httpx.URL(found.group(0)).path
            confirm = await http.get(path)
            used = await http.post(path, data={"csrf_token": csrf_of(confirm.text)})
            assert used.status_code == 303
            assert (await http.get("/referrals")).status_code == 200
            page = await http.get(f"/referrals/{number}")
            assert "Quintanilla" in page.text
            return found.group(0)

    return asyncio.run(go())


def test_a_whole_loop_logs_no_token_link_client_name_or_email_body(
    settings: Settings,
    clock: Clock,
    network: sessionmaker[Session],
    smtp_server: SmtpServer,
    dovecot: Mailbox,
    logged: pytest.LogCaptureFixture,
) -> None:
    runtime = Runtime(settings, clock=clock)
    channel = EmailChannel(runtime, dovecot, smtp_server.recorder)
    try:
        with transaction(network) as session:
            client_id = new_client(session, first_name="Marisol", last_name="Quintanilla")
        number = published(network, client_id=client_id)
        notice = only(channel.deliver(), GK_HOME)
        assert channel.receive(plain_reply(notice, f"assign {DANA}")) == 1
        provider_notice = only(channel.deliver(), DANA)
        answer = plain_reply(provider_notice, f"provision staffing: {COMMENT}")
        assert channel.receive(answer) == 1
        assert channel.inbound() == [("processed", "applied"), ("processed", "applied")]
        channel.deliver()
        link = _sign_in(settings, runtime, channel, number)
    finally:
        channel.close()
        runtime.close()
    with transaction(network) as session:
        referral = session.scalar(select(Referral).where(Referral.number == number))
        assert referral is not None
        client = session.get(Client, referral.client_id)
        assert client is not None
        names = [client.first_name, client.last_name, str(client.phone)]
    tokens = [
        token_from_address(str(m.message["Reply-To"]))
        for m in smtp_server.recorder.messages
        if m.message["Reply-To"]
    ]
    assert len(tokens) >= 3 and all(tokens)

    # The test's own SMTP server (aiosmtpd's "mail.log") is not closeloop's to keep quiet.
    text = "\n".join(
        f"{r.name} {r.levelname} {r.getMessage()} {r.exc_text or ''}"
        for r in logged.records
        if not r.name.startswith("mail.")
    )
    # The loop was logged (so the greps below look at something).
    assert text.count("email UID") == 2
    for secret in [*tokens, link, httpx.URL(link).path, SECRET, *names, COMMENT, DANA, GK_HOME]:
        assert secret and secret.lower() not in text.lower(), secret


def test_redaction_covers_the_access_log_and_tracebacks(
    logged: pytest.LogCaptureFixture,
) -> None:
    token = "a" * 40
    access = logging.getLogger("uvicorn.access")
    access.info(
        '%s - "%s %s HTTP/%s" %d', "10.0.0.9:5123", "GET", "/sign-in/12.ab.99.mac", "1.1", 200
    )
    try:
        raise ValueError(f"cannot deliver to replies+{token}@closeloop.example.org")
    except ValueError:
        logging.getLogger("bot.outbox").exception("delivery failed")
    logging.getLogger("handlers").info(
        "connecting to %s with %s", "imaps://box:hunter2@mail.example.org/INBOX", "xoxb-123-abc"
    )

    text = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in logged.records)
    assert "/sign-in/[redacted]" in text and "12.ab.99.mac" not in text
    assert token not in text and "replies+[redacted]@closeloop.example.org" in text
    assert "hunter2" not in text and "imaps://box:[redacted]@mail.example.org" in text
    assert "xoxb-123-abc" not in text
