"""The email channel wired as a worker runs it: runtime, dispatcher over SMTP, listener on IMAP."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.runtime import Runtime
from handlers.email.inbox import InboxListener
from handlers.email.listener import inbox_listener
from storage.db import transaction
from storage.models import InboundEmail, OutboxMessage
from tests.conftest import row_counts
from tests.servers.dovecot import Mailbox
from tests.servers.smtp import ReceivedMessage, SmtpRecorder


@dataclass
class EmailChannel:
    runtime: Runtime
    mailbox: Mailbox
    recorder: SmtpRecorder
    listener: InboxListener = field(init=False)
    _seen: int = 0

    def __post_init__(self) -> None:
        self.listener = inbox_listener(self.runtime.sessions, self.runtime.settings)

    def deliver(self) -> list[ReceivedMessage]:
        """Run the dispatcher until nothing is due; the messages the SMTP server got meanwhile."""
        self.runtime.dispatcher().drain()
        new = self.recorder.messages[self._seen :]
        self._seen = len(self.recorder.messages)
        return list(new)

    def receive(self, *raws: bytes) -> int:
        """Append to the inbox and let the listener handle everything there once."""
        for raw in raws:
            self.mailbox.append(raw)
        # A selected session learns of new mail at NOOP or IDLE (the run_forever loop does
        # both); a new session sees everything at once.
        handled = self.listener.run_once()
        self.listener.close()
        return handled

    def session(self) -> Session:
        return self.runtime.sessions()

    def counts(self) -> dict[str, int]:
        with transaction(self.runtime.sessions) as session:
            return row_counts(session)

    def inbound(self) -> list[tuple[str, str]]:
        """(outcome, reason) of every inbound message recorded, in order."""
        with transaction(self.runtime.sessions) as session:
            rows = session.scalars(select(InboundEmail).order_by(InboundEmail.id))
            return [(row.outcome, row.reason) for row in rows]

    def outbox(self, kind: str) -> list[OutboxMessage]:
        with transaction(self.runtime.sessions) as session:
            return list(
                session.scalars(
                    select(OutboxMessage)
                    .where(OutboxMessage.kind == kind)
                    .order_by(OutboxMessage.id)
                )
            )

    def count(self, kind: str) -> int:
        with transaction(self.runtime.sessions) as session:
            return (
                session.scalar(
                    select(func.count())
                    .select_from(OutboxMessage)
                    .where(OutboxMessage.kind == kind)
                )
                or 0
            )

    def close(self) -> None:
        self.listener.close()
        for transport in self.runtime.transports().values():
            close = getattr(transport, "close", None)
            if close is not None:
                close()
        self.runtime.close()


def only(messages: list[ReceivedMessage], to: str) -> ReceivedMessage:
    """The one message among `messages` sent to `to`."""
    found = [m for m in messages if m.rcpt_tos == (to,)]
    assert len(found) == 1, [(m.rcpt_tos, m.message["Subject"]) for m in messages]
    return found[0]
