"""IMAP plumbing: reconnection backoff, BYE and new-mail responses, UIDs in batches."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Iterator
from typing import Any

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

ConnectionTrouble = (IMAPClientError, OSError)


class ConnectionLost(Exception):
    """The server ended the session (BYE) or stopped answering."""


def reconnect_delay(
    failures: int, *, initial: float, cap: float, rand: Callable[[], float] = random.random
) -> float:
    """Seconds to wait before reconnect attempt number `failures` (1-based): doubling, capped,
    with the upper half jittered so many workers do not reconnect in step."""
    ceiling = min(cap, initial * 2 ** max(failures - 1, 0))
    return ceiling / 2 + rand() * ceiling / 2


def chunks(uids: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(uids), size):
        yield uids[start : start + size]


def is_bye(response: tuple[Any, ...]) -> bool:
    return bool(response) and response[0] == b"BYE"


def is_new_mail(response: tuple[Any, ...]) -> bool:
    return len(response) >= 2 and response[1] in (b"EXISTS", b"RECENT")


def close_quietly(client: IMAPClient) -> None:
    with contextlib.suppress(*ConnectionTrouble):
        client.shutdown()
