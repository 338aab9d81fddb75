"""The worker's inbox listener: IMAP_URL's mailbox wired to the reply processor."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker

from bot.logs import bound
from bot.settings import Settings
from handlers.email.inbox import InboxListener
from handlers.email.replies import ReplyProcessor
from handlers.email.urls import parse_imap_url


def inbox_listener(
    sessions: sessionmaker[Session],
    settings: Settings,
    *,
    wake: Callable[[], None] | None = None,
) -> InboxListener:
    """The IMAP listener of the worker (and of `serve`), reading IMAP_URL. `wake` is called
    after each commit of replies, so their confirmations go out without waiting for a poll."""
    if not settings.imap_url:
        raise ValueError("IMAP_URL is not set")
    processor = ReplyProcessor(sessions, settings, wake=wake)
    return InboxListener(
        parse_imap_url(settings.imap_url),
        _with_log_id(processor),
        process_batch=processor.process_batch,
    )


def _with_log_id(process: Callable[[int, bytes], str]) -> Callable[[int, bytes], str]:
    """Every log line written while one message is read carries its IMAP UID (LOG_FORMAT)."""

    def run(uid: int, raw: bytes) -> str:
        with bound(message_id=f"imap:{uid}"):
            return process(uid, raw)

    return run
