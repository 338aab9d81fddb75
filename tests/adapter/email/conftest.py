"""Real mail servers for the email adapter tests: a private Dovecot and an aiosmtpd recorder."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.runtime import Runtime
from bot.settings import Settings
from tests.adapter.email.channel import EmailChannel
from tests.conftest import Clock
from tests.servers import self_signed_cert, server_missing
from tests.servers.dovecot import DovecotServer, Mailbox, start_dovecot
from tests.servers.smtp import SmtpRecorder, SmtpServer

# What an IMAP server from before MOVE (RFC 6851) and IDLE looks like.
LEGACY_CAPABILITIES = "IMAP4rev1 LITERAL+ UIDPLUS"


@pytest.fixture(scope="session")
def dovecot_server() -> Iterator[DovecotServer]:
    server = start_dovecot()
    yield server
    server.close()


@pytest.fixture(scope="session")
def legacy_dovecot_server() -> Iterator[DovecotServer]:
    server = start_dovecot(capabilities=LEGACY_CAPABILITIES)
    yield server
    server.close()


@pytest.fixture
def dovecot(dovecot_server: DovecotServer) -> Mailbox:
    """A fresh, empty mailbox on the shared test server (restarted if a test stopped it)."""
    dovecot_server.start()
    return dovecot_server.add_user()


@pytest.fixture
def legacy_dovecot(legacy_dovecot_server: DovecotServer) -> Mailbox:
    legacy_dovecot_server.start()
    return legacy_dovecot_server.add_user()


@pytest.fixture(scope="session")
def tls_cert() -> Iterator[tuple[Path, Path]]:
    openssl = shutil.which("openssl")
    if openssl is None:
        server_missing("install OpenSSL: apt-get install openssl")
    directory = Path(tempfile.mkdtemp(prefix="closeloop-cert-"))
    yield self_signed_cert(directory, openssl)
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """An SMTP server recording every message it accepts (`smtp_server.recorder`)."""
    server = SmtpServer(SmtpRecorder())
    server.start()
    yield server
    server.stop()


SECRET = "test-secret-for-reply-tokens-0123456789"
MAIL_FROM = "closeloop <notify@closeloop.example.org>"
REPLY_TO = "replies@closeloop.example.org"
AUTHSERV_ID = "mx.closeloop.example.org"
PUBLIC_URL = "https://closeloop.example.org"


def mail_settings(
    engine: Engine, *, smtp_url: str | None = None, imap_url: str | None = None
) -> Settings:
    """Settings of a deployment with the email channel (SMTP out, IMAP in) on the test servers."""
    return Settings(
        database_url=engine.url.render_as_string(hide_password=False),
        smtp_url=smtp_url,
        imap_url=imap_url,
        mail_from=MAIL_FROM,
        reply_to=REPLY_TO,
        secret_key=SECRET,
        public_url=PUBLIC_URL,
        trusted_authserv_id=AUTHSERV_ID,
    )


@pytest.fixture
def loop_settings(engine: Engine, smtp_server: SmtpServer, dovecot: Mailbox) -> Settings:
    """The email channel on both test servers: a test module takes it as its `settings`."""
    return mail_settings(engine, smtp_url=smtp_server.url(), imap_url=dovecot.imap_url)


@pytest.fixture
def channel(
    settings: Settings,
    clock: Clock,
    network: sessionmaker[Session],
    smtp_server: SmtpServer,
    dovecot: Mailbox,
) -> Iterator[EmailChannel]:
    """The whole email loop wired on the module's `settings`: deliver, receive, inbound."""
    wired = EmailChannel(Runtime(settings, clock=clock), dovecot, smtp_server.recorder)
    yield wired
    wired.close()
