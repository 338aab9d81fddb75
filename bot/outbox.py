"""The outbox dispatcher: claims due rows, delivers them through a transport, records the result."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.delivery import DeliveryError, Notification, Receipt, Transport
from bot.notify import addresses, enqueue, network_admins
from storage.db import transaction
from storage.models import OutboxMessage
from storage.types import utcnow

log = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(hours=1)
ALERT_KIND = "delivery_failed"


class Dispatcher:
    """Delivers due outbox rows. Several may run at once: a row is claimed under
    `FOR UPDATE SKIP LOCKED` (PostgreSQL) or the write lock (SQLite) and leased, so exactly one
    dispatcher delivers it; a dispatcher that dies mid-delivery lets the lease lapse and another
    one retries."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        transports: Mapping[str, Transport],
        *,
        max_attempts: int = 8,
        base_delay: float = 30.0,
        lease_seconds: float = 120.0,
        batch: int = 50,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessions = sessions
        self.transports = dict(transports)
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.lease = timedelta(seconds=lease_seconds)
        self.batch = batch
        self.clock = clock
        self._woken = threading.Event()

    def wake(self) -> None:
        """Look for due rows now rather than after the idle wait (rows were just committed)."""
        self._woken.set()

    def claim(self) -> list[Notification]:
        moment = self.clock()
        with transaction(self.sessions) as session:
            query = (
                select(OutboxMessage)
                .where(
                    OutboxMessage.status == "pending",
                    OutboxMessage.channel.in_(self.transports),
                    OutboxMessage.next_attempt_at <= moment,
                    or_(
                        OutboxMessage.leased_until.is_(None),
                        OutboxMessage.leased_until < moment,
                    ),
                )
                .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
                .limit(self.batch)
            )
            if session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            rows = session.scalars(query).all()
            for row in rows:
                row.leased_until = moment + self.lease
            return [
                Notification(
                    id=row.id,
                    key=row.key,
                    channel=row.channel,
                    kind=row.kind,
                    address=row.address,
                    staff_id=row.staff_id,
                    referral_id=row.referral_id,
                    payload=dict(row.payload),
                    attempts=row.attempts,
                )
                for row in rows
            ]

    def run_once(self) -> int:
        """Claim and deliver one batch; returns how many were delivered."""
        delivered = 0
        for note in self.claim():
            try:
                receipt = self.transports[note.channel].deliver(note)
            except DeliveryError as exc:
                self._failed(note, exc)
                continue
            except Exception as exc:  # a transport bug must not stop the queue; logged once here
                log.exception("transport %s crashed on outbox row %s", note.channel, note.id)
                self._failed(note, DeliveryError(f"{type(exc).__name__}: {exc}"))
                continue
            self._sent(note, receipt)
            delivered += 1
        return delivered

    def drain(self, *, max_rounds: int = 1000) -> int:
        """Deliver until nothing is due (tests, the demo)."""
        total = 0
        for _ in range(max_rounds):
            if not self.claim_pending_exists():
                break
            total += self.run_once()
        return total

    def claim_pending_exists(self) -> bool:
        moment = self.clock()
        with transaction(self.sessions) as session:
            return (
                session.scalar(
                    select(OutboxMessage.id)
                    .where(
                        OutboxMessage.status == "pending",
                        OutboxMessage.channel.in_(self.transports),
                        OutboxMessage.next_attempt_at <= moment,
                        or_(
                            OutboxMessage.leased_until.is_(None),
                            OutboxMessage.leased_until < moment,
                        ),
                    )
                    .limit(1)
                )
                is not None
            )

    def run_forever(self, stop: threading.Event, *, idle_seconds: float = 1.0) -> None:
        while not stop.is_set():
            try:
                busy = self.run_once()
            except Exception:  # the database went away: log, wait, try again
                log.exception("outbox dispatcher round failed")
                busy = 0
            if not busy:
                self._wait_idle(stop, idle_seconds)

    def _wait_idle(self, stop: threading.Event, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not stop.is_set() and not self._woken.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            # Short slices, so a stop is noticed as promptly as a wake-up.
            self._woken.wait(min(remaining, 0.1))
        self._woken.clear()

    def _sent(self, note: Notification, receipt: Receipt) -> None:
        with transaction(self.sessions) as session:
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == note.id)
                .values(
                    status="sent",
                    sent_at=self.clock(),
                    attempts=OutboxMessage.attempts + 1,
                    leased_until=None,
                    external_ref=receipt.external_ref,
                    last_error=None,
                )
            )

    def _failed(self, note: Notification, error: DeliveryError) -> None:
        attempts = note.attempts + 1
        moment = self.clock()
        dead = error.permanent or attempts >= self.max_attempts
        if error.retry_after is not None:
            delay = timedelta(seconds=error.retry_after)
        else:
            delay = timedelta(seconds=self.base_delay * 2 ** (attempts - 1))
            delay = min(delay, MAX_BACKOFF) * random.uniform(0.8, 1.2)
        with transaction(self.sessions) as session:
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == note.id)
                .values(
                    status="dead" if dead else "pending",
                    attempts=attempts,
                    leased_until=None,
                    next_attempt_at=moment + delay,
                    last_error=str(error)[:2000],
                )
            )
            if dead:
                log.warning("outbox row %s (%s) is dead: %s", note.id, note.key, error)
                if note.kind != ALERT_KIND:
                    alert_admins(session, note, str(error))


def alert_admins(session: Session, note: Notification, error: str) -> int:
    """Tell every admin that a notification could not be delivered (never about an alert)."""
    admins = network_admins(session)
    written = 0
    for admin in admins:
        for channel, address in addresses(session, admin):
            if channel == note.channel and address == note.address:
                continue
            written += enqueue(
                session,
                key=f"{ALERT_KIND}:o{note.id}:s{admin.id}:{channel}",
                channel=channel,
                kind=ALERT_KIND,
                address=address,
                staff_id=admin.id,
                referral_id=None,
                payload={
                    "failed_kind": note.kind,
                    "failed_channel": note.channel,
                    "failed_address": note.address,
                    "number": note.payload.get("number"),
                    "error": error[:300],
                    "recipient_name": admin.name,
                },
            )
    return written
