"""What the outbox dispatcher hands a transport (email, Slack, console) and what it gets back."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class Notification:
    """One claimed outbox row: a message for one recipient over one channel.

    `kind` names the template set (e.g. "referral_published"); `payload` is the minimum-necessary
    context the templates render (referral number, county, needs, urgency, age...), already
    JSON-safe. `address` is the email address, or the Slack user or channel id, to deliver to.
    """

    id: int
    key: str
    channel: str
    kind: str
    address: str
    staff_id: int | None
    referral_id: int | None
    payload: dict[str, Any] = field(default_factory=dict)
    attempts: int = 0
    # When the row was written: the delivery latency metric, without reading the row again.
    created_at: datetime | None = None


@dataclass(frozen=True)
class Receipt:
    """What a transport records about a delivered message: Message-ID, or "channel:ts" in Slack."""

    external_ref: str | None = None


class DeliveryError(Exception):
    """A delivery failed. `retry_after` (seconds) is honoured when the far side gave one;
    `permanent` failures go dead at once instead of being retried. `unreachable` says the far
    side itself could not be reached or is failing (no connection, a 5xx from Slack, SMTP 421):
    no fault of this message, so the channel pauses instead of the row using up its attempts."""

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        permanent: bool = False,
        unreachable: bool = False,
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.permanent = permanent
        self.unreachable = unreachable


class Transport(Protocol):
    """Delivers one notification; raises DeliveryError when it could not.

    A transport may also have `prepare(notifications)`, called with each claimed batch before
    its rows are delivered one by one (the email renderer looks up every thread at once)."""

    def deliver(self, notification: Notification) -> Receipt: ...
