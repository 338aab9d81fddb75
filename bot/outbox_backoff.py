"""Backing off: a message retried later or given up, a channel paused while its far side is away."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from bot.delivery import DeliveryError, Notification
from bot.notify import network_admins, tell
from bot.outbox_rows import Claim, fence, rowcount
from storage.db import transaction
from storage.models import OutboxMessage

# The dispatcher's log, wherever its parts live: one logger to watch and to silence.
log = logging.getLogger("bot.outbox")

MAX_BACKOFF = timedelta(hours=1)
ALERT_KIND = "delivery_failed"
# A far side that could not be reached is tried again after 0.5 s, 1 s, 2 s... and never less
# often than this, so delivery resumes within seconds of a relay coming back (issue 13).
HOST_BACKOFF_CAP = 5.0


class Backoff:
    """When the dispatcher tries again: a message after it failed, a channel after it was away."""

    sessions: sessionmaker[Session]
    clock: Callable[[], datetime]
    max_attempts: int
    base_delay: float
    host_backoff_cap: float
    _host_failures: dict[str, int]
    _host_retry_at: dict[str, datetime]

    def _idle(self, idle_seconds: float) -> float:
        """How long to wait when nothing was sent: less when a paused far side is due again."""
        if not self._host_retry_at:
            return idle_seconds
        soonest = min(self._host_retry_at.values()) - self.clock()
        return max(0.05, min(idle_seconds, soonest.total_seconds()))

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
                .where(*fence(note, claim))
                .values(
                    status="dead" if dead else "pending",
                    attempts=attempts,
                    leased_until=None,
                    claimed_by=None,
                    next_attempt_at=moment + delay,
                    last_error=str(error)[:2000],
                )
            )
            if not rowcount(changed):
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
                .where(*fence(note, claim))
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
