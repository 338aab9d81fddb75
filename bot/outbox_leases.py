"""Claiming due outbox rows under a short lease, renewing it, handing back what was not tried."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.delivery import Notification, Transport
from bot.outbox_rows import NOTE_COLUMNS, Claim, due, note_from_row
from storage.db import transaction
from storage.models import OutboxMessage

FIRST_CLAIM = 10


class Leases:
    """The dispatcher's claims: how many rows, for how long, and whether it still holds them."""

    sessions: sessionmaker[Session]
    transports: dict[str, Transport]
    lease: timedelta
    margin: timedelta
    batch: int
    clock: Callable[[], datetime]
    worker: str
    _pace: float | None
    _claims: int
    _current: Claim | None
    _host_retry_at: dict[str, datetime]

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
                    .where(due(moment), OutboxMessage.channel.in_(channels))
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
                        .returning(*NOTE_COLUMNS)
                    ).all()
                    order = {row_id: i for i, row_id in enumerate(ids)}
                    notes = sorted((note_from_row(row) for row in rows), key=lambda n: order[n.id])
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

    def claim_pending_exists(self) -> bool:
        moment = self.clock()
        channels = self._open_channels(moment)
        if not channels:
            return False
        with transaction(self.sessions) as session:
            return (
                session.scalar(
                    select(OutboxMessage.id)
                    .where(due(moment), OutboxMessage.channel.in_(channels))
                    .limit(1)
                )
                is not None
            )

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
