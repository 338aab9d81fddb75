"""The IMAP listener: fetch replies by UID in batches, hand them to a processor, file them, wait.

It knows nothing about what a reply means. `process(uid, raw)` decides and returns "processed"
or "rejected"; the message is then moved to the folder of that name. A processor that can
decide for many messages at once (`process_batch`, one answer per message, in order) is handed
up to `batch_size` of them per round trip: one FETCH of their UIDs, then one MOVE per folder.
A message is never deleted unless it has first been copied there. A crash between processing
and moving makes the message come round again, so the processor must skip replies it has
already applied (by Message-ID). Run one listener per mailbox: two would both pick up the same
message.
"""

from __future__ import annotations

import enum
import logging
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from handlers.email.imap_plumbing import (
    ConnectionLost,
    ConnectionTrouble,
    chunks,
    close_quietly,
    has_unread_answer,
    is_bye,
    is_new_mail,
    new_mail_announced,
)
from handlers.email.imap_plumbing import reconnect_delay as reconnect_delay
from handlers.email.urls import ImapUrl, tls_context

logger = logging.getLogger(__name__)

# How often a blocked wait looks at the stop event; short so shutdown is prompt.
_STOP_CHECK_SECONDS = 0.5
# Messages per FETCH and per MOVE: round trips cost more than bytes (docs/benchmarks.md).
BATCH_SIZE = 100

BatchProcessor = Callable[[Sequence[tuple[int, bytes]]], Sequence[str]]


class Destination(enum.StrEnum):
    """The folder a handled message is moved to."""

    PROCESSED = "processed"
    REJECTED = "rejected"


class ProcessorUnavailable(Exception):
    """The processor cannot decide now (say, its database is unreachable): the messages stay
    in the folder, unfiled, and are handed over again after a reconnection delay."""


class InboxListener:
    """Reads one IMAP folder, hands every message to `process`, files it under Processed or
    Rejected, then waits with IDLE (or polls) for the next.

    Liveness: IDLE is ended and re-issued every `idle_renew_seconds`, well inside the 29 minutes
    after which servers may drop an idle client; each renewal is a round trip that must finish
    within `socket_timeout`, so a connection that went silent is noticed and replaced.
    """

    def __init__(
        self,
        url: ImapUrl,
        process: Callable[[int, bytes], str],
        *,
        process_batch: BatchProcessor | None = None,
        batch_size: int = BATCH_SIZE,
        processed_folder: str = "Processed",
        rejected_folder: str = "Rejected",
        idle_renew_seconds: float = 240.0,
        socket_timeout: float = 60.0,
        poll_seconds: float = 60.0,
        backoff_initial: float = 1.0,
        backoff_cap: float = 300.0,
        use_idle: bool = True,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.url = url
        self._process = process
        self._process_batch = process_batch
        self.batch_size = max(1, batch_size)
        self._folder_names = {
            Destination.PROCESSED: processed_folder,
            Destination.REJECTED: rejected_folder,
        }
        self._folders: dict[Destination, str] = {}
        self.idle_renew_seconds = idle_renew_seconds
        self.socket_timeout = socket_timeout
        self.poll_seconds = poll_seconds
        self.backoff_initial = backoff_initial
        self.backoff_cap = backoff_cap
        self._use_idle = use_idle
        self._ssl_context = ssl_context or tls_context(url.verify)
        self._client: IMAPClient | None = None
        self._can_move = False
        self._can_idle = False
        self._uidplus = False
        self.uidvalidity: int | None = None
        self._unfiled: dict[tuple[int | None, int], Destination] = {}
        # Counters for health checks and tests.
        self.connects = 0
        self.handled = 0
        # Set while waiting in IDLE: everything found in the folder before has been filed.
        self.idling = threading.Event()

    # -- one pass ------------------------------------------------------------------------------

    def run_once(self) -> int:
        """Connect if needed and handle every message now in the folder; returns how many.

        IMAP and network errors propagate, after dropping the broken connection.
        """
        client = self._connected()
        try:
            new_mail_announced(client)  # what earlier commands announced is in view already
            uids = client.search("UNDELETED")
            while not uids and new_mail_announced(client):
                # Mail that came during the SEARCH is announced behind its empty answer, and
                # not again in IDLE: it is in view now, so a second SEARCH finds it.
                uids = client.search("UNDELETED")
            present = {(self.uidvalidity, uid) for uid in uids}
            # Forget outcomes of messages someone else has since moved away.
            self._unfiled = {key: value for key, value in self._unfiled.items() if key in present}
            return sum(
                self._handle(client, chunk) for chunk in chunks(sorted(uids), self.batch_size)
            )
        except ConnectionTrouble:
            self._disconnect()
            raise

    def _handle(self, client: IMAPClient, uids: list[int]) -> int:
        """Decide for `uids` (in UID order) and file them; returns how many were filed."""
        decided = {
            uid: outcome
            for uid in uids
            if (outcome := self._unfiled.get((self.uidvalidity, uid))) is not None
        }
        wanted = [uid for uid in uids if uid not in decided]
        if wanted:
            fetched = client.fetch(wanted, ["BODY.PEEK[]"])
            # A UID missing from the answer was expunged by someone else after SEARCH.
            messages = [
                (uid, raw)
                for uid in wanted
                if (raw := fetched.get(uid, {}).get(b"BODY[]")) is not None
            ]
            for (uid, _raw), outcome in zip(messages, self._outcomes(messages), strict=True):
                # Remembered until filed, so a connection lost before the move does not make
                # this process hand the same message over twice.
                self._unfiled[(self.uidvalidity, uid)] = outcome
                decided[uid] = outcome
        for outcome in Destination:
            filed = [uid for uid in uids if decided.get(uid) == outcome]
            if filed:
                self._file(client, filed, self._folders[outcome])
                for uid in filed:
                    del self._unfiled[(self.uidvalidity, uid)]
        self.handled += len(decided)
        return len(decided)

    def _outcomes(self, messages: list[tuple[int, bytes]]) -> list[Destination]:
        if self._process_batch is not None:
            try:
                answers = list(self._process_batch(messages))
                if len(answers) != len(messages):
                    raise ValueError(f"{len(answers)} answers for {len(messages)} messages")
            except ProcessorUnavailable:
                raise
            except Exception:
                # Nothing of the batch counts (its transaction rolled back, or it committed and
                # the processor will call those replies repeats): decide each one on its own.
                logger.exception(
                    "processing UIDs %s-%s of %s together failed; handling them one by one",
                    messages[0][0],
                    messages[-1][0],
                    self.url.redacted(),
                )
            else:
                return [
                    self._as_outcome(uid, answer)
                    for (uid, _raw), answer in zip(messages, answers, strict=True)
                ]
        return [self._outcome(uid, raw) for uid, raw in messages]

    def _outcome(self, uid: int, raw: bytes) -> Destination:
        try:
            answer = self._process(uid, raw)
        except ProcessorUnavailable:
            raise
        except Exception:
            # The one place a processor failure is logged; the message is kept in Rejected.
            logger.exception("processing message UID %s of %s failed", uid, self.url.redacted())
            return Destination.REJECTED
        return self._as_outcome(uid, answer)

    @staticmethod
    def _as_outcome(uid: int, answer: str) -> Destination:
        try:
            return Destination(answer)
        except ValueError:
            logger.error("processor returned %r for UID %s; filing it as rejected", answer, uid)
            return Destination.REJECTED

    def _file(self, client: IMAPClient, uids: list[int], folder: str) -> None:
        if self._can_move:
            client.move(uids, folder)
            return
        # Without MOVE (RFC 6851): copy first, so a failure before the expunge loses nothing.
        client.copy(uids, folder)
        client.add_flags(uids, [b"\\Deleted"], silent=True)
        if self._uidplus:
            client.uid_expunge(uids)
        else:
            client.expunge()

    # -- the loop ------------------------------------------------------------------------------

    def run_forever(self, stop: threading.Event) -> None:
        """Handle mail until `stop` is set, reconnecting with backoff whenever the link fails."""
        failures = 0
        try:
            while not stop.is_set():
                try:
                    # Mail that arrives while we FETCH or MOVE is announced in answer to those
                    # commands, not again in IDLE: look until a pass finds nothing, so none
                    # waits in the folder until the next IDLE renewal.
                    while self.run_once() and not stop.is_set():
                        pass
                    failures = 0
                    self._wait_for_mail(stop)
                except (*ConnectionTrouble, ConnectionLost, ProcessorUnavailable) as exc:
                    self._disconnect()
                    failures += 1
                    delay = reconnect_delay(
                        failures, initial=self.backoff_initial, cap=self.backoff_cap
                    )
                    logger.warning(
                        "IMAP %s: %s: %s; reconnecting in %.1fs (attempt %d)",
                        self.url.redacted(),
                        type(exc).__name__,
                        exc,
                        delay,
                        failures,
                    )
                    stop.wait(delay)
                except Exception:
                    # This loop is the top of its thread: a bug here must not end mail intake
                    # silently. Logged once with its traceback, then retried like a lost link.
                    self._disconnect()
                    failures += 1
                    delay = reconnect_delay(
                        failures, initial=self.backoff_initial, cap=self.backoff_cap
                    )
                    logger.exception(
                        "IMAP %s: unexpected error; starting again in %.1fs",
                        self.url.redacted(),
                        delay,
                    )
                    stop.wait(delay)
        finally:
            self.close()

    def _wait_for_mail(self, stop: threading.Event) -> None:
        """Return when new mail may have arrived, when IDLE is due for renewal, or on stop."""
        client = self._connected()
        if not (self._use_idle and self._can_idle):
            self._poll_wait(client, stop)
            return
        try:
            client.idle()
            self.idling.set()
            self._idle_wait(client, stop)
        except ConnectionTrouble:
            self._disconnect()
            raise
        finally:
            self.idling.clear()
        try:
            client.idle_done()
        except ConnectionTrouble:
            # The renewal round trip is the watchdog: no answer in time means a dead link.
            self._disconnect()
            raise

    def _idle_wait(self, client: IMAPClient, stop: threading.Event) -> None:
        if has_unread_answer(client):
            # Mail that came just before IDLE was announced with its "+ idling"; DONE reads it.
            return
        renew_at = time.monotonic() + self.idle_renew_seconds
        while not stop.is_set():
            remaining = renew_at - time.monotonic()
            if remaining <= 0:
                return
            timeout = min(_STOP_CHECK_SECONDS, remaining)
            started = time.monotonic()
            responses = client.idle_check(timeout=timeout)
            if any(is_bye(response) for response in responses):
                raise ConnectionLost("the server ended the session")
            if any(is_new_mail(response) for response in responses):
                return
            if not responses and time.monotonic() - started < timeout / 2:
                # idle_check returns early and empty at end of stream; let the IDLE DONE round
                # trip tell a closed connection from a spurious wake-up.
                return

    def _poll_wait(self, client: IMAPClient, stop: threading.Event) -> None:
        deadline = time.monotonic() + self.poll_seconds
        while not stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            stop.wait(min(_STOP_CHECK_SECONDS, remaining))
        if not stop.is_set():
            # Some servers only report new messages after a command; NOOP also proves liveness.
            client.noop()

    # -- connection ----------------------------------------------------------------------------

    def _connected(self) -> IMAPClient:
        if self._client is not None:
            return self._client
        url = self.url
        client = IMAPClient(
            url.host,
            port=url.port,
            ssl=url.security == "tls",
            ssl_context=self._ssl_context,
            timeout=self.socket_timeout,
        )
        try:
            if url.security == "starttls":
                client.starttls(self._ssl_context)
            client.login(url.username, url.password)
            capabilities = set(client.capabilities())
            self._can_move = b"MOVE" in capabilities
            self._can_idle = b"IDLE" in capabilities
            self._uidplus = b"UIDPLUS" in capabilities
            self._folders = {
                outcome: self._ensure_folder(client, name, capabilities)
                for outcome, name in self._folder_names.items()
            }
            selected = client.select_folder(url.folder)
        except BaseException:
            close_quietly(client)
            raise
        self._note_uidvalidity(selected.get(b"UIDVALIDITY"))
        self._client = client
        self.connects += 1
        logger.info("IMAP %s connected (connection %d)", url.redacted(), self.connects)
        return client

    def _ensure_folder(self, client: IMAPClient, name: str, capabilities: set[bytes]) -> str:
        folder = name
        if b"NAMESPACE" in capabilities:
            personal = client.namespace().personal
            prefix = personal[0][0] if personal else ""
            # Servers like Courier keep every folder under "INBOX.": honour the namespace.
            if isinstance(prefix, str) and prefix and not folder.startswith(prefix):
                folder = prefix + folder
        if not client.folder_exists(folder):
            try:
                client.create_folder(folder)
                logger.info("IMAP %s: created folder %s", self.url.redacted(), folder)
            except IMAPClientError:
                # Another worker may have created it in between; only that is acceptable.
                if not client.folder_exists(folder):
                    raise
        return folder

    def _note_uidvalidity(self, value: Any) -> None:
        uidvalidity = int(value) if value is not None else None
        if self.uidvalidity is not None and uidvalidity != self.uidvalidity:
            # Old UIDs mean nothing now; everything in the folder is handled again, and the
            # processor skips the replies it already applied.
            logger.warning(
                "IMAP %s: UIDVALIDITY changed from %s to %s; handling the whole folder again",
                self.url.redacted(),
                self.uidvalidity,
                uidvalidity,
            )
            self._unfiled.clear()
        self.uidvalidity = uidvalidity

    def _disconnect(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            close_quietly(client)

    def close(self) -> None:
        """Log out (or just close the socket if the link is already broken)."""
        client, self._client = self._client, None
        if client is None:
            return
        try:
            client.logout()
        except (TimeoutError, *ConnectionTrouble):
            close_quietly(client)
