"""IMAP plumbing: reconnection backoff, BYE and new-mail responses, UIDs in batches."""

from __future__ import annotations

import contextlib
import random
import ssl
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


def new_mail_announced(client: IMAPClient) -> bool:
    """Whether the server announced new mail (an untagged EXISTS) in answer to any command since
    this was last asked; the announcement is forgotten.

    A server answers SEARCH from the mailbox as the client last saw it and reports mail that came
    since behind the results: that SEARCH's empty answer does not mean an empty folder, and IDLE
    will not announce that message again."""
    _code, data = client._imap.response("EXISTS")
    return data != [None]


def has_unread_answer(client: IMAPClient) -> bool:
    """Whether the IMAP library already holds a server line that nobody has looked at.

    imaplib reads the socket through a buffered file. `idle()` reads the server's "+ idling"
    that way, and Dovecot sends "* 1 EXISTS" in the same packet for mail that came just before
    IDLE: polling the socket, as `idle_check` does, never sees that line."""
    sock = client.socket()
    timeout = sock.gettimeout()
    sock.setblocking(False)
    try:
        return bool(client._imap.file.peek(1))
    except (BlockingIOError, ssl.SSLWantReadError):
        return False  # nothing buffered, and nothing on the socket yet
    finally:
        sock.settimeout(timeout)


def close_quietly(client: IMAPClient) -> None:
    with contextlib.suppress(*ConnectionTrouble):
        client.shutdown()
