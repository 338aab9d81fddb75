"""Delivers outbox notifications to Slack: a DM, a channel post, or an update in place."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.delivery import DeliveryError, Notification, Receipt
from handlers.slack.pacing import ChannelPacer

_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

# Errors that no retry can fix: the address, the token or the message itself is wrong, so the
# outbox row should go dead at once and an admin be told. Anything else (Slack's internal
# errors, 5xx, errors we have not met) is retried, because a dead row loses the message.
PERMANENT_ERRORS = frozenset(
    {
        "account_inactive",
        "channel_not_found",
        "invalid_auth",
        "not_authed",
        "token_revoked",
        "token_expired",
        "missing_scope",
        "not_in_channel",
        "is_archived",
        "user_not_found",
        "users_not_found",
        "user_disabled",
        "cannot_dm_bot",
        "restricted_action",
        "msg_too_long",
        "no_text",
        "invalid_blocks",
        "invalid_arguments",
        "message_not_found",
        "cant_update_message",
        "edit_window_closed",
    }
)


@dataclass(frozen=True)
class SlackMessage:
    """What a rendered notification looks like in Slack.

    With `update` = (channel, ts) the message already posted there is replaced in place. With
    `thread_ts` it is posted as a reply in that thread (one thread per referral, threads.py);
    `broadcast` also shows the reply in the conversation itself.
    """

    text: str
    blocks: list[dict[str, Any]] | None = None
    update: tuple[str, str] | None = None
    thread_ts: str | None = None
    broadcast: bool = False


class SlackTransport:
    """The outbox's Slack channel (implements bot.delivery.Transport)."""

    def __init__(
        self,
        client: WebClient,
        render: Callable[[Notification], SlackMessage],
        pacer: ChannelPacer | None = None,
        *,
        email_cache_ttl: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._render = render
        self._pacer = pacer or ChannelPacer()
        self._ttl = email_cache_ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._user_by_email: dict[str, tuple[str, float]] = {}

    def deliver(self, notification: Notification) -> Receipt:
        message = self._render(notification)
        try:
            if message.update is not None:
                channel, ts = message.update
                self._pacer.wait_turn(channel)
                answer = self._client.chat_update(
                    channel=channel, ts=ts, text=message.text, blocks=message.blocks
                )
            else:
                target = self._target(notification.address)
                self._pacer.wait_turn(target)
                threading_args: dict[str, Any] = {}
                if message.thread_ts:
                    threading_args = {
                        "thread_ts": message.thread_ts,
                        "reply_broadcast": message.broadcast,
                    }
                answer = self._client.chat_postMessage(
                    channel=target, text=message.text, blocks=message.blocks, **threading_args
                )
        except SlackApiError as err:
            raise _translate(err, notification) from err
        except (SlackClientError, OSError) as err:
            # The retry handler already tried again; the outbox pauses the channel and tries later.
            raise DeliveryError(f"Slack could not be reached: {err}", unreachable=True) from err
        return Receipt(external_ref=f"{answer['channel']}:{answer['ts']}")

    def _target(self, address: str) -> str:
        """The id to post to; Slack opens the DM itself when given a user id."""
        if _USER_ID.match(address) or _CHANNEL_ID.match(address):
            return address
        if _EMAIL.match(address):
            return self._user_for_email(address)
        raise DeliveryError(
            f"{address!r} is not a Slack user id, channel id or email address", permanent=True
        )

    def _user_for_email(self, email: str) -> str:
        key = email.lower()
        now = self._clock()
        with self._lock:
            cached = self._user_by_email.get(key)
        if cached is not None and cached[1] > now:
            return cached[0]
        try:
            answer = self._client.users_lookupByEmail(email=email)
        except SlackApiError as err:
            if err.response.get("error") == "users_not_found":
                raise DeliveryError(
                    f"No Slack user has the email address {email}; link the staff member's "
                    "Slack account or correct their email.",
                    permanent=True,
                ) from err
            raise
        user = answer["user"]
        if user.get("deleted"):
            raise DeliveryError(
                f"The Slack account for {email} ({user['id']}) is deactivated.", permanent=True
            )
        with self._lock:
            self._user_by_email[key] = (user["id"], now + self._ttl)
        return str(user["id"])


def _translate(err: SlackApiError, notification: Notification) -> DeliveryError:
    error = str(err.response.get("error") or "")
    status = err.response.status_code
    where = f"Slack refused notification {notification.id} to {notification.address}"
    if status == 429 or error == "ratelimited":
        retry_after = _retry_after(err.response.headers)
        return DeliveryError(f"{where}: rate limited", retry_after=retry_after)
    if error in PERMANENT_ERRORS:
        return DeliveryError(f"{where}: {error}", permanent=True)
    # Slack's own trouble (5xx, fatal_error, internal_error) is not this message's fault.
    trouble = status >= 500 or error in ("fatal_error", "internal_error", "service_unavailable")
    return DeliveryError(f"{where}: {error or f'HTTP {status}'}", unreachable=trouble)


def _retry_after(headers: Mapping[str, Any]) -> float | None:
    for name, value in headers.items():
        if name.lower() == "retry-after":
            raw = value[0] if isinstance(value, list) else value
            try:
                return float(raw)
            except (TypeError, ValueError):
                return None
    return None
