"""The outbox dispatcher: claims due rows, delivers them through a transport, records the result."""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, or_, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from bot.delivery import DeliveryError, Notification, Receipt, Transport
from bot.notify import network_admins, tell
from storage.db import transaction
from storage.models import OutboxMessage
from storage.types import utcnow

log = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(hours=1)
ALERT_KIND = "delivery_failed"
# A far side that could not be reached is tried again after 0.5 s, 1 s, 2 s... and never less
# often than this, so delivery resumes within seconds of a relay coming back (issue 13).
HOST_BACKOFF_CAP = 5.0
FIRST_CLAIM = 10


@dataclass
class Claim:
    """A batch this dispatcher holds: the rows, the token their final writes match on, and how
    long the rows are surely still ours (the lease, less a margin for other machines' clocks)."""

    token: str
    notes: list[Notification]
    valid_until: datetime
    owned: set[int] = field(default_factory=set)


class Dispatcher:
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
        lease_seconds: float = 4.0,
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
        self._writer = _Writer(self.sessions)
        self._woken = threading.Event()

    def wake(self) -> None:
        """Look for due rows now rather than after the idle wait (rows were just committed)."""
        self._woken.set()

    # -- claiming -----------------------------------------------------------------------------

    def claim(self) -> Claim:
        """Claim a batch of due rows; it is the current claim, which `renew` extends."""
        claim = self._claim()
        self._current = claim
        return claim

    def _claim(self) -> Claim:
        moment = self.clock()
        self._claims += 1
        token = f"{self.worker}:{self._claims}"
        channels = self._open_channels(moment)
        notes: list[Notification] = []
        if channels:
            with transaction(self.sessions) as session:
                query = (
                    select(OutboxMessage.id)
                    .where(_due(moment), OutboxMessage.channel.in_(channels))
                    .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
                    .limit(self._claim_size())
                )
                if session.get_bind().dialect.name == "postgresql":
                    query = query.with_for_update(skip_locked=True)
                ids = list(session.scalars(query))
                if ids:
                    rows = session.execute(
                        update(OutboxMessage)
                        .where(OutboxMessage.id.in_(ids))
                        .values(leased_until=moment + self.lease, claimed_by=token)
                        .returning(*_NOTE_COLUMNS)
                    ).all()
                    order = {row_id: i for i, row_id in enumerate(ids)}
                    notes = sorted((_note(row) for row in rows), key=lambda n: order[n.id])
        return Claim(token, notes, moment + self.lease - self.margin, {n.id for n in notes})

    def _claim_size(self) -> int:
        if not self._pace:
            return min(self.batch, FIRST_CLAIM)  # the relay's pace is not known yet
        return max(1, min(self.batch, int(self.lease.total_seconds() / 2 / self._pace)))

    def _paced(self, seconds: float) -> None:
        self._pace = seconds if self._pace is None else 0.8 * self._pace + 0.2 * seconds

    def _open_channels(self, moment: datetime) -> list[str]:
        """Channels whose far side is not being waited for after it could not be reached."""
        return [
            name
            for name in self.transports
            if self._host_retry_at.get(name) is None or self._host_retry_at[name] <= moment
        ]

    def renew(self) -> int:
        """Extend the lease of the rows of the current claim not yet done (the heartbeat);
        returns how many are still held."""
        claim = self._current
        if claim is None or not claim.owned:
            return 0
        moment = self.clock()
        with transaction(self.sessions) as session:
            kept = set(
                session.scalars(
                    update(OutboxMessage)
                    .where(
                        OutboxMessage.claimed_by == claim.token,
                        OutboxMessage.status == "pending",
                    )
                    .values(leased_until=moment + self.lease)
                    .returning(OutboxMessage.id)
                )
            )
        # Only a renewal that began while the lease surely held extends it: otherwise another
        # dispatcher may have taken rows over, and only those the update found are still ours.
        claim.owned &= kept
        if moment < claim.valid_until:
            claim.valid_until = moment + self.lease - self.margin
        return len(claim.owned)

    def _holds(self, claim: Claim, note: Notification) -> bool:
        return note.id in claim.owned and self.clock() < claim.valid_until

    # -- delivering ---------------------------------------------------------------------------

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

    def claim_pending_exists(self) -> bool:
        moment = self.clock()
        channels = self._open_channels(moment)
        if not channels:
            return False
        with transaction(self.sessions) as session:
            return (
                session.scalar(
                    select(OutboxMessage.id)
                    .where(_due(moment), OutboxMessage.channel.in_(channels))
                    .limit(1)
                )
                is not None
            )

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

    def _idle(self, idle_seconds: float) -> float:
        """How long to wait when nothing was sent: less when a paused far side is due again."""
        if not self._host_retry_at:
            return idle_seconds
        soonest = min(self._host_retry_at.values()) - self.clock()
        return max(0.05, min(idle_seconds, soonest.total_seconds()))

    def _heartbeat(self, stop: threading.Event) -> None:
        interval = self.lease.total_seconds() / 4
        while not stop.wait(interval):
            try:
                self.renew()
            except Exception:  # the sender stops on its own once the lease is no longer sure
                log.warning("outbox lease renewal failed", exc_info=True)

    # -- recording ----------------------------------------------------------------------------

    def _sent(self, claim: Claim, note: Notification, receipt: Receipt) -> bool:
        done = self._writer.execute(
            _MARK_SENT,
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

    def _failed(self, claim: Claim, note: Notification, error: DeliveryError) -> None:
        claim.owned.discard(note.id)
        attempts = note.attempts + 1
        moment = self.clock()
        dead = error.permanent or attempts >= self.max_attempts
        delay = timedelta(seconds=self.base_delay * 2 ** (attempts - 1))
        delay = min(delay, MAX_BACKOFF) * random.uniform(0.8, 1.2)
        with transaction(self.sessions) as session:
            changed = session.execute(
                update(OutboxMessage)
                .where(*_fence(note, claim))
                .values(
                    status="dead" if dead else "pending",
                    attempts=attempts,
                    leased_until=None,
                    claimed_by=None,
                    next_attempt_at=moment + delay,
                    last_error=str(error)[:2000],
                )
            )
            if not _rowcount(changed):
                return
            if dead:
                log.warning("outbox row %s (%s) is dead: %s", note.id, note.key, error)
                if note.kind != ALERT_KIND:
                    alert_admins(session, note, str(error))

    def _host_trouble(self, claim: Claim, note: Notification, error: DeliveryError) -> None:
        """The far side could not be reached, or asked us to wait: no fault of this message, so
        no attempt is counted. The channel pauses (capped backoff with jitter, or Retry-After)
        and the row waits for the channel's next success or the pause, whichever comes first."""
        claim.owned.discard(note.id)
        failures = self._host_failures.get(note.channel, 0) + 1
        self._host_failures[note.channel] = failures
        if error.retry_after is not None:
            pause = error.retry_after
        else:
            pause = min(self.host_backoff_cap, 0.5 * 2 ** (failures - 1))
            pause *= random.uniform(0.8, 1.2)
        moment = self.clock()
        self._host_retry_at[note.channel] = moment + timedelta(seconds=pause)
        if failures == 1 or pause >= self.host_backoff_cap:
            log.warning("%s: %s; trying again in %.1f s", note.channel, error, pause)
        with transaction(self.sessions) as session:
            session.execute(
                update(OutboxMessage)
                .where(*_fence(note, claim))
                .values(
                    leased_until=None,
                    claimed_by=None,
                    waiting_on=note.channel,
                    next_attempt_at=moment + timedelta(seconds=pause),
                    last_error=str(error)[:2000],
                )
            )

    def _host_back(self, channel: str) -> None:
        """The channel answers (first success of a batch): rows that wait on it because it could
        not be reached, by this dispatcher or another, are due again at once."""
        self._host_failures.pop(channel, None)
        self._host_retry_at.pop(channel, None)
        moment = self.clock()
        with transaction(self.sessions) as session:
            session.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.status == "pending",
                    OutboxMessage.waiting_on == channel,
                    OutboxMessage.next_attempt_at > moment,
                )
                .values(next_attempt_at=moment, waiting_on=None)
            )

    def _release(self, claim: Claim) -> None:
        """Hand back the rows of a claim that were not tried (their channel paused)."""
        if not claim.owned:
            return
        with transaction(self.sessions) as session:
            session.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.claimed_by == claim.token,
                    OutboxMessage.status == "pending",
                    OutboxMessage.id.in_(claim.owned),
                )
                .values(leased_until=None, claimed_by=None)
            )
        claim.owned.clear()


_NOTE_COLUMNS = (
    OutboxMessage.id,
    OutboxMessage.key,
    OutboxMessage.channel,
    OutboxMessage.kind,
    OutboxMessage.address,
    OutboxMessage.staff_id,
    OutboxMessage.referral_id,
    OutboxMessage.payload,
    OutboxMessage.attempts,
)


# Built once: it is executed for every message sent, and a statement object SQLAlchemy has
# seen before skips compilation.
_MARK_SENT = (
    update(OutboxMessage)
    .where(
        OutboxMessage.id == bindparam("row_id"),
        OutboxMessage.claimed_by == bindparam("token"),
        OutboxMessage.status == "pending",
    )
    .values(
        status="sent",
        sent_at=bindparam("sent_at"),
        attempts=OutboxMessage.attempts + 1,
        leased_until=None,
        claimed_by=None,
        waiting_on=None,
        external_ref=bindparam("external_ref"),
        last_error=None,
    )
)


def _note(row: Any) -> Notification:
    return Notification(
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


def _due(moment: datetime) -> Any:
    return (
        (OutboxMessage.status == "pending")
        & (OutboxMessage.next_attempt_at <= moment)
        & or_(OutboxMessage.leased_until.is_(None), OutboxMessage.leased_until < moment)
    )


def _fence(note: Notification, claim: Claim) -> Sequence[Any]:
    """The final write of a row applies only while this claim still holds it."""
    return (
        OutboxMessage.id == note.id,
        OutboxMessage.claimed_by == claim.token,
        OutboxMessage.status == "pending",
    )


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


class _Writer:
    """Marks rows sent, one short write each, right after each send.

    On PostgreSQL one connection is kept in autocommit with `synchronous_commit = off`: the
    write is one round trip, and it is on the server once it answers, so a dispatcher killed
    after it still never resends that row (only a crash of the database server itself could
    lose the last fraction of a second of marks, and those rows would be sent again: the outbox
    stays at-least-once). SQLite writes each mark in its own transaction, as everywhere else.
    """

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._connection: Connection | None = None

    def execute(self, statement: Any, parameters: dict[str, Any]) -> bool:
        engine = self._engine()
        if engine.dialect.name != "postgresql":
            with transaction(self._sessions) as session:
                return _rowcount(session.connection().execute(statement, parameters)) > 0
        if self._connection is None:
            connection = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            connection.execute(text("SET synchronous_commit TO off"))
            self._connection = connection
        try:
            return _rowcount(self._connection.execute(statement, parameters)) > 0
        except Exception:
            self.reset()
            raise

    def reset(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.close()
            except Exception:  # already broken: nothing to hand back to the pool
                connection.invalidate()

    def _engine(self) -> Engine:
        bind = self._sessions.kw["bind"]
        assert isinstance(bind, Engine)
        return bind


def alert_admins(session: Session, note: Notification, error: str) -> int:
    """Tell every admin that a notification could not be delivered (never about an alert)."""
    payload = {
        "failed_kind": note.kind,
        "failed_channel": note.channel,
        "failed_address": note.address,
        "number": note.payload.get("number"),
        "error": error[:300],
    }
    # Never on the channel and address that just failed.
    failed = (note.channel, note.address)
    return sum(
        tell(
            session,
            admin,
            key=f"{ALERT_KIND}:o{note.id}:s{admin.id}",
            kind=ALERT_KIND,
            payload=payload,
            unless=failed,
        )
        for admin in network_admins(session)
    )
