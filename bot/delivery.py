"""What the outbox dispatcher hands a transport (email, Slack, console) and what it gets back."""

from __future__ import annotations

from dataclasses import dataclass, field
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


@dataclass(frozen=True)
class Receipt:
    """What a transport records about a delivered message: Message-ID, or "channel:ts" in Slack."""

    external_ref: str | None = None


class DeliveryError(Exception):
    """A delivery failed. `retry_after` (seconds) is honoured when the far side gave one;
    `permanent` failures go dead at once instead of being retried."""

    def __init__(
        self, message: str, *, retry_after: float | None = None, permanent: bool = False
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.permanent = permanent


class Transport(Protocol):
    """Delivers one notification; raises DeliveryError when it could not."""

    def deliver(self, notification: Notification) -> Receipt: ...
