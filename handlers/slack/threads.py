"""One Slack thread per referral in each DM and channel: the first message about a referral
there starts it, and every later one about the same referral replies in it."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.context import now
from bot.delivery import Notification, Receipt, Transport
from handlers.slack.transport import SlackMessage
from storage.db import insert, transaction
from storage.models import SlackThread

# A public or private channel's id; anything else (a user id, an email) is a DM.
_CHANNEL = re.compile(r"^[CG][A-Z0-9]{2,}$")


def thread_of(sessions: sessionmaker[Session], referral_id: int, address: str) -> str | None:
    with transaction(sessions) as session:
        found: str | None = session.scalar(
            select(SlackThread.ts).where(
                SlackThread.referral_id == referral_id, SlackThread.address == address
            )
        )
        return found


def remember(
    sessions: sessionmaker[Session], referral_id: int, address: str, channel: str, ts: str
) -> None:
    """The first message about a referral at an address starts its thread (two workers racing
    to post the first one: the first to record wins, and the other's message stays a root)."""
    with transaction(sessions) as session:
        session.execute(
            insert(session, SlackThread)
            .values(
                referral_id=referral_id,
                address=address,
                channel=channel,
                ts=ts,
                created_at=now(session),
            )
            .on_conflict_do_nothing(index_elements=["referral_id", "address"])
        )


class ThreadedRenderer:
    """Wraps the Slack renderer: a message about a referral replies in that referral's thread.

    In a DM the reply is also broadcast to the conversation, so a gatekeeper asked to act sees
    it without opening the thread (Slack does not notify a DM's thread replies the same way)."""

    def __init__(
        self, render: Callable[[Notification], SlackMessage], sessions: sessionmaker[Session]
    ) -> None:
        self.render = render
        self.sessions = sessions

    def __call__(self, notification: Notification) -> SlackMessage:
        message = self.render(notification)
        if notification.referral_id is None or message.update is not None:
            return message
        ts = thread_of(self.sessions, notification.referral_id, notification.address)
        if ts is None:
            return message
        in_dm = not _CHANNEL.match(notification.address)
        return dataclasses.replace(message, thread_ts=ts, broadcast=in_dm)


class ThreadedTransport:
    """Wraps the Slack transport: records where a referral's first message landed."""

    def __init__(self, inner: Transport, sessions: sessionmaker[Session]) -> None:
        self.inner = inner
        self.sessions = sessions

    def deliver(self, notification: Notification) -> Receipt:
        receipt = self.inner.deliver(notification)
        ref = receipt.external_ref or ""
        if notification.referral_id is not None and ":" in ref:
            channel, ts = ref.split(":", 1)
            remember(self.sessions, notification.referral_id, notification.address, channel, ts)
        return receipt
