"""The outbox dispatcher: claims due rows, delivers them through a transport, records the result."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from bot.delivery import DeliveryError, Notification, Receipt, Transport
from bot.outbox_backoff import ALERT_KIND as ALERT_KIND
from bot.outbox_backoff import HOST_BACKOFF_CAP, Backoff
from bot.outbox_backoff import MAX_BACKOFF as MAX_BACKOFF
from bot.outbox_backoff import alert_admins as alert_admins
from bot.outbox_leases import FIRST_CLAIM as FIRST_CLAIM
from bot.outbox_leases import Leases
from bot.outbox_rows import MARK_SENT, RowWriter
from bot.outbox_rows import Claim as Claim
from storage.types import utcnow

log = logging.getLogger(__name__)


class Dispatcher(Leases, Backoff):
    """Delivers due outbox rows; several may run at once.

    A batch is claimed under `FOR UPDATE SKIP LOCKED` (PostgreSQL) or the write lock (SQLite)
    with a short lease and a claim token. While `run_forever` runs, a heartbeat renews the lease
    of what it still holds, so a live dispatcher never loses a row to the lease however slow the
    far side is, and a dead one's rows are taken over once the lease lapses (seconds). Before
    each send the dispatcher checks that it still holds the row (lease not lapsed, renewed by
    the last heartbeat), and each final write matches the claim token: a dispatcher that lost
    its lease neither sends the rest of its batch nor marks a row another one holds. Each row is
    marked as soon as it is sent, so a crash doubles at most the one message in flight.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        transports: Mapping[str, Transport],
        *,
        max_attempts: int = 8,
        base_delay: float = 30.0,
        lease_seconds: float = 2.0,
        batch: int = 200,
        clock: Callable[[], datetime] = utcnow,
        host_backoff_cap: float = HOST_BACKOFF_CAP,
    ) -> None:
        self.sessions = sessions
        self.transports = dict(transports)
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.lease = timedelta(seconds=lease_seconds)
        # Other dispatchers may run on machines whose clocks differ a little.
        self.margin = self.lease / 5
        self.batch = batch
        self.clock = clock
        self.host_backoff_cap = host_backoff_cap
        self.worker = uuid.uuid4().hex[:12]
        # Seconds per message lately (moving average): a claim takes what can be sent within
        # half a lease, so through a slow relay each worker claims a few rows, not a batch
        # another worker could have shared.
        self._pace: float | None = None
        self._claims = 0
        self._current: Claim | None = None
        self._host_failures: dict[str, int] = {}
        self._host_retry_at: dict[str, datetime] = {}
        self._writer = RowWriter(self.sessions)
        self._woken = threading.Event()

    def wake(self) -> None:
        """Look for due rows now rather than after the idle wait (rows were just committed)."""
        self._woken.set()

    def run_once(self) -> int:
        """Claim and deliver one batch; returns how many were delivered."""
        claim = self._claim()
        self._current = claim
        try:
            return self.deliver(claim)
        finally:
            self._current = None

    def deliver(self, claim: Claim) -> int:
        """Deliver what `claim` holds, one row at a time, each marked as soon as it is sent."""
        delivered = 0
        by_channel: dict[str, list[Notification]] = {}
        for note in claim.notes:
            by_channel.setdefault(note.channel, []).append(note)
        for channel, notes in by_channel.items():
            prepare = getattr(self.transports[channel], "prepare", None)
            if prepare is not None:
                prepare(notes)
        paused: set[str] = set()
        answered: set[str] = set()
        for note in claim.notes:
            if note.channel in paused:
                continue
            if not self._holds(claim, note):
                log.warning("outbox claim %s lapsed; leaving the rest of its batch", claim.token)
                break
            started = time.monotonic()
            try:
                receipt = self.transports[note.channel].deliver(note)
            except DeliveryError as exc:
                if exc.unreachable or exc.retry_after is not None:
                    self._host_trouble(claim, note, exc)
                    paused.add(note.channel)
                else:
                    self._failed(claim, note, exc)
                continue
            except Exception as exc:  # a transport bug must not stop the queue; logged once here
                log.exception("transport %s crashed on outbox row %s", note.channel, note.id)
                self._failed(claim, note, DeliveryError(f"{type(exc).__name__}: {exc}"))
                continue
            claim.owned.discard(note.id)
            self._paced(time.monotonic() - started)
            if self._sent(claim, note, receipt):
                delivered += 1
            if note.channel not in answered:
                answered.add(note.channel)
                self._host_back(note.channel)
        self._release(claim)  # what a paused channel or a lapsed lease left untried
        return delivered

    def drain(self, *, max_rounds: int = 1000) -> int:
        """Deliver until nothing is due (tests, the demo)."""
        total = 0
        for _ in range(max_rounds):
            if not self.claim_pending_exists():
                break
            total += self.run_once()
        return total

    def run_forever(self, stop: threading.Event, *, idle_seconds: float = 1.0) -> None:
        """Deliver until `stop` is set, with a heartbeat renewing the current claim's lease."""
        beat = threading.Thread(
            target=self._heartbeat, args=(stop,), name="outbox-heartbeat", daemon=True
        )
        beat.start()
        try:
            while not stop.is_set():
                try:
                    busy = self.run_once()
                except Exception:  # the database went away: log, wait, try again
                    log.exception("outbox dispatcher round failed")
                    self._writer.reset()
                    busy = 0
                if not busy:
                    self._wait_idle(stop, self._idle(idle_seconds))
        finally:
            self._writer.reset()
        beat.join(timeout=5)

    def _wait_idle(self, stop: threading.Event, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not stop.is_set() and not self._woken.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            # Short slices, so a stop is noticed as promptly as a wake-up.
            self._woken.wait(min(remaining, 0.1))
        self._woken.clear()

    def _heartbeat(self, stop: threading.Event) -> None:
        interval = self.lease.total_seconds() / 4
        while not stop.wait(interval):
            try:
                self.renew()
            except Exception:  # the sender stops on its own once the lease is no longer sure
                log.warning("outbox lease renewal failed", exc_info=True)

    def _sent(self, claim: Claim, note: Notification, receipt: Receipt) -> bool:
        done = self._writer.execute(
            MARK_SENT,
            {
                "row_id": note.id,
                "token": claim.token,
                "sent_at": self.clock(),
                "external_ref": receipt.external_ref,
            },
        )
        if not done:
            log.warning("outbox row %s was taken over before it could be marked sent", note.id)
        return done
