"""An aiosmtpd server on a loopback port that records what it receives and can misbehave on cue."""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.servers import free_port


@dataclass(frozen=True)
class ReceivedMessage:
    """One message as the server accepted it."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes
    message: EmailMessage
    tls: bool


@dataclass
class SmtpRecorder:
    """What the server saw, and how it should answer. Mutate the answers from the test thread."""

    messages: list[ReceivedMessage] = field(default_factory=list)
    connections: int = 0
    logins: list[tuple[str, str]] = field(default_factory=list)
    # address -> full SMTP reply, e.g. {"gone@example.org": "550 5.1.1 No such user"}
    refuse_recipients: dict[str, str] = field(default_factory=dict)
    # Replies to use for the next DATA commands instead of accepting, e.g. ["451 4.3.0 Try later"]
    data_replies: list[str] = field(default_factory=list)
    _changed: threading.Condition = field(default_factory=threading.Condition, repr=False)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[ReceivedMessage]:
        """The first `count` messages, once that many arrived; AssertionError after `timeout`."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.messages) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"expected {count} messages within {timeout}s, got {len(self.messages)}"
                    )
                self._changed.wait(remaining)
            return self.messages[:count]

    # aiosmtpd handler hooks, called on the server's event loop thread.

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        refusal = self.refuse_recipients.get(address)
        if refusal is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.data_replies:
            return self.data_replies.pop(0)
        raw = envelope.original_content or b""
        # Parsed with local line endings, as a mail client would show it; `raw` keeps CRLF.
        message = message_from_bytes(raw.replace(b"\r\n", b"\n"), policy=policy.default)
        assert isinstance(message, EmailMessage)
        received = ReceivedMessage(
            mail_from=envelope.mail_from or "",
            rcpt_tos=tuple(envelope.rcpt_tos),
            raw=raw,
            message=message,
            tls=_over_tls(server, session),
        )
        with self._changed:
            self.messages.append(received)
            self._changed.notify_all()
        return "250 Message accepted for delivery"


def _over_tls(server: SMTP, session: Session) -> bool:
    # STARTTLS sets session.ssl; implicit TLS lives on the transport.
    if session.ssl is not None:
        return True
    return (
        server.transport is not None and server.transport.get_extra_info("ssl_object") is not None
    )


class _RecordingSMTP(SMTP):
    """Counts connections and remembers live ones so the test can cut them."""

    def __init__(self, controller: SmtpServer, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._controller = controller

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._controller.connection_opened(self, transport)

    def connection_lost(self, error: Exception | None) -> None:
        self._controller.connection_closed(self)
        super().connection_lost(error)


class SmtpServer(Controller):
    """A threaded aiosmtpd controller bound to 127.0.0.1 on a free port."""

    def __init__(
        self,
        recorder: SmtpRecorder,
        *,
        users: dict[str, str] | None = None,
        starttls_cert: tuple[Path, Path] | None = None,
        implicit_tls_cert: tuple[Path, Path] | None = None,
    ) -> None:
        self.recorder = recorder
        self.users = users
        self._live: dict[_RecordingSMTP, asyncio.BaseTransport] = {}
        kwargs: dict[str, Any] = {"hostname": "127.0.0.1", "port": free_port()}
        if users is not None:
            # Loopback only, so plain AUTH without TLS is acceptable here.
            kwargs.update(authenticator=self._authenticate, auth_require_tls=False)
        if starttls_cert is not None:
            kwargs["tls_context"] = _server_context(starttls_cert)
        if implicit_tls_cert is not None:
            kwargs["ssl_context"] = _server_context(implicit_tls_cert)
        super().__init__(recorder, **kwargs)

    def factory(self) -> SMTP:
        return _RecordingSMTP(self, self.handler, **self.SMTP_kwargs)

    def start(self) -> None:
        """Start listening (again: a stopped server can be started on the same port)."""
        if self.loop.is_closed():
            self.loop = asyncio.new_event_loop()
        super().start()
        # Controller.start() opens one connection of its own to check the server is up.
        self.recorder.connections -= 1

    def connection_opened(self, smtpd: _RecordingSMTP, transport: asyncio.BaseTransport) -> None:
        self.recorder.connections += 1
        self._live[smtpd] = transport

    def connection_closed(self, smtpd: _RecordingSMTP) -> None:
        self._live.pop(smtpd, None)

    def drop_connections(self) -> int:
        """Close every client connection from the server side, as an idle timeout would."""

        async def close_all() -> int:
            transports = list(self._live.values())
            for transport in transports:
                transport.close()
            return len(transports)

        return asyncio.run_coroutine_threadsafe(close_all(), self.loop).result(timeout=5)

    def url(self, scheme: str = "smtp", *, user: str | None = None, query: str = "") -> str:
        credentials = ""
        if user is not None and self.users is not None:
            credentials = f"{user}:{self.users[user]}@"
        suffix = f"?{query}" if query else ""
        return f"{scheme}://{credentials}{self.hostname}:{self.port}{suffix}"

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword) or self.users is None:
            return AuthResult(success=False, handled=False)
        login = auth_data.login.decode()
        password = auth_data.password.decode()
        if self.users.get(login) != password:
            return AuthResult(success=False, handled=False)
        self.recorder.logins.append((login, mechanism))
        return AuthResult(success=True)


def _server_context(cert: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert[0]), str(cert[1]))
    return context
