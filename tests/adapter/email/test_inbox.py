"""The IMAP listener against a real Dovecot: filing by outcome, IDLE, polling, reconnection."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import pytest

from handlers.email.inbox import InboxListener, ProcessorUnavailable, reconnect_delay
from handlers.email.urls import parse_imap_url
from tests.conftest import need_server
from tests.servers.dovecot import Mailbox

pytestmark = pytest.mark.dovecot


def reply(number: int, command: str = "accept") -> bytes:
    return (
        f"From: provider{number}@agency.example.org\r\n"
        f"To: replies+token{number}@closeloop.example.org\r\n"
        f"Subject: Re: Referral R-2026-{number:06d}\r\n"
        f"Message-ID: <reply-{number}@agency.example.org>\r\n"
        "\r\n"
        f"{command}\r\n"
    ).encode()


class Processor:
    """Records what it was handed; rejects replies saying "garbage", raises on "explode"."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, bytes]] = []
        self._arrived = threading.Condition()

    def __call__(self, uid: int, raw: bytes) -> str:
        with self._arrived:
            self.calls.append((uid, raw))
            self._arrived.notify_all()
        if b"explode" in raw:
            raise RuntimeError("the processor has a bug")
        if b"garbage" in raw:
            return "rejected"
        if b"shrug" in raw:
            return "maybe"
        return "processed"

    def wait_for(self, count: int, timeout: float = 30.0) -> list[bytes]:
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.calls) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"expected {count} calls, got {len(self.calls)}")
                self._arrived.wait(remaining)
            return [raw for _uid, raw in self.calls]


class BatchProcessor(Processor):
    """Also decides for many messages at once; its batch path can be broken on purpose."""

    def __init__(self, *, broken: bool = False) -> None:
        super().__init__()
        self.batches: list[list[int]] = []
        self.broken = broken

    def batch(self, messages: Sequence[tuple[int, bytes]]) -> list[str]:
        self.batches.append([uid for uid, _raw in messages])
        if self.broken:
            raise RuntimeError("the batch path has a bug")
        return [self(uid, raw) for uid, raw in messages]


def listener_for(
    url: str, processor: Callable[[int, bytes], str], **options: float | bool
) -> InboxListener:
    settings: dict[str, float | bool] = {"socket_timeout": 5.0, "backoff_initial": 0.1}
    settings.update(options)
    return InboxListener(parse_imap_url(url), processor, **settings)  # type: ignore[arg-type]


def wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


@contextmanager
def running(listener: InboxListener) -> Iterator[None]:
    stop = threading.Event()
    thread = threading.Thread(target=listener.run_forever, args=(stop,), daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive(), "run_forever did not return after stop was set"


def test_run_once_files_every_message_by_its_outcome(dovecot: Mailbox) -> None:
    messages = [reply(1), reply(2, "garbage"), reply(3)]
    for raw in messages:
        dovecot.append(raw)
    processor = Processor()
    listener = listener_for(dovecot.imap_url, processor)

    handled = listener.run_once()
    listener.close()

    assert handled == 3
    assert processor.calls == [(1, messages[0]), (2, messages[1]), (3, messages[2])]
    assert dovecot.list_folder("INBOX") == []
    assert dovecot.list_folder("Processed") == [messages[0], messages[2]]
    assert dovecot.list_folder("Rejected") == [messages[1]]
    assert dovecot.folders() == ["INBOX", "Processed", "Rejected"]


def test_mail_announced_with_an_empty_search_is_handled_in_the_same_pass(
    dovecot: Mailbox,
) -> None:
    # The server answers SEARCH from the mailbox as the client last saw it and announces mail
    # that came since ("* 1 EXISTS") only behind the results. A pass that took the empty
    # answer at its word went into IDLE, where that message is not announced again: it
    # waited for the next IDLE renewal (minutes in production; a flaky test here).
    processor = Processor()
    listener = listener_for(dovecot.imap_url, processor)
    assert listener.run_once() == 0  # connected, folder selected, nothing there
    dovecot.append(reply(1))

    handled = listener.run_once()
    listener.close()

    assert handled == 1
    assert processor.calls == [(1, reply(1))]
    assert dovecot.list_folder("INBOX") == []
    assert dovecot.list_folder("Processed") == [reply(1)]


def test_empty_inbox_creates_the_folders_and_handles_nothing(dovecot: Mailbox) -> None:
    processor = Processor()
    listener = listener_for(dovecot.imap_url, processor)

    assert listener.run_once() == 0
    assert listener.run_once() == 0
    listener.close()

    assert processor.calls == []
    assert dovecot.folders() == ["INBOX", "Processed", "Rejected"]
    assert listener.connects == 1


def test_existing_folders_are_kept_and_added_to(dovecot: Mailbox) -> None:
    earlier = reply(0)
    dovecot.append(earlier, folder="Processed")
    dovecot.append(reply(1))
    listener = listener_for(dovecot.imap_url, Processor())

    assert listener.run_once() == 1
    listener.close()

    assert dovecot.list_folder("Processed") == [earlier, reply(1)]


def test_custom_folder_names(dovecot: Mailbox) -> None:
    dovecot.append(reply(1))
    dovecot.append(reply(2, "garbage"))
    listener = InboxListener(
        parse_imap_url(dovecot.imap_url),
        Processor(),
        processed_folder="Replies-Applied",
        rejected_folder="Replies-Refused",
    )

    assert listener.run_once() == 2
    listener.close()

    assert dovecot.list_folder("Replies-Applied") == [reply(1)]
    assert dovecot.list_folder("Replies-Refused") == [reply(2, "garbage")]


def test_a_failing_processor_rejects_that_message_logs_once_and_goes_on(
    dovecot: Mailbox, caplog: pytest.LogCaptureFixture
) -> None:
    dovecot.append(reply(1, "explode"))
    dovecot.append(reply(2))
    dovecot.append(reply(3, "shrug"))
    processor = Processor()
    listener = listener_for(dovecot.imap_url, processor)

    with caplog.at_level(logging.WARNING, logger="handlers.email.inbox"):
        assert listener.run_once() == 3
    listener.close()

    assert dovecot.list_folder("Rejected") == [reply(1, "explode"), reply(3, "shrug")]
    assert dovecot.list_folder("Processed") == [reply(2)]
    errors = [record for record in caplog.records if record.levelno == logging.ERROR]
    assert [record.getMessage() for record in errors] == [
        f"processing message UID 1 of {listener.url.redacted()} failed",
        "processor returned 'maybe' for UID 3; filing it as rejected",
    ]
    assert errors[0].exc_info is not None
    assert str(errors[0].exc_info[1]) == "the processor has a bug"


def test_a_batch_processor_gets_the_messages_in_uid_order_a_batch_at_a_time(
    dovecot: Mailbox,
) -> None:
    messages = [reply(1), reply(2, "garbage"), reply(3), reply(4), reply(5, "garbage")]
    for raw in messages:
        dovecot.append(raw)
    processor = BatchProcessor()
    listener = InboxListener(
        parse_imap_url(dovecot.imap_url), processor, process_batch=processor.batch, batch_size=2
    )

    assert listener.run_once() == 5
    listener.close()

    assert processor.batches == [[1, 2], [3, 4], [5]]
    assert [raw for _uid, raw in processor.calls] == messages
    assert dovecot.list_folder("INBOX") == []
    assert dovecot.list_folder("Processed") == [reply(1), reply(3), reply(4)]
    assert dovecot.list_folder("Rejected") == [reply(2, "garbage"), reply(5, "garbage")]


def test_a_failing_batch_is_decided_again_one_message_at_a_time(
    dovecot: Mailbox, caplog: pytest.LogCaptureFixture
) -> None:
    for raw in (reply(1), reply(2, "garbage"), reply(3)):
        dovecot.append(raw)
    processor = BatchProcessor(broken=True)
    listener = InboxListener(
        parse_imap_url(dovecot.imap_url), processor, process_batch=processor.batch
    )

    with caplog.at_level(logging.WARNING, logger="handlers.email.inbox"):
        assert listener.run_once() == 3
    listener.close()

    assert processor.batches == [[1, 2, 3]]
    assert [uid for uid, _raw in processor.calls] == [1, 2, 3]
    assert [record.getMessage() for record in caplog.records] == [
        f"processing UIDs 1-3 of {listener.url.redacted()} together failed; "
        "handling them one by one"
    ]
    assert dovecot.list_folder("Processed") == [reply(1), reply(3)]
    assert dovecot.list_folder("Rejected") == [reply(2, "garbage")]


def test_mail_waits_in_the_inbox_while_the_processor_is_unavailable(dovecot: Mailbox) -> None:
    dovecot.append(reply(1))
    dovecot.append(reply(2))
    processor = Processor()
    refusals: list[int] = []

    def unavailable_twice(uid: int, raw: bytes) -> str:
        if len(refusals) < 2:
            refusals.append(uid)
            raise ProcessorUnavailable("the database is restarting")
        return processor(uid, raw)

    listener = listener_for(dovecot.imap_url, unavailable_twice, backoff_cap=0.2)

    with running(listener):
        assert processor.wait_for(2) == [reply(1), reply(2)]
        wait_until(lambda: listener.handled == 2)

    assert refusals == [1, 1]
    assert listener.connects == 3
    assert dovecot.list_folder("INBOX") == []
    assert dovecot.list_folder("Processed") == [reply(1), reply(2)]


def test_server_without_move_copies_then_expunges(legacy_dovecot: Mailbox) -> None:
    messages = [reply(1), reply(2, "garbage"), reply(3)]
    for raw in messages:
        legacy_dovecot.append(raw)
    listener = listener_for(legacy_dovecot.imap_url, Processor())

    assert listener.run_once() == 3
    listener.close()

    assert legacy_dovecot.list_folder("INBOX") == []
    assert legacy_dovecot.list_folder("Processed") == [messages[0], messages[2]]
    assert legacy_dovecot.list_folder("Rejected") == [messages[1]]


def test_idle_picks_up_a_message_that_arrives_while_waiting(dovecot: Mailbox) -> None:
    dovecot.append(reply(1))
    processor = Processor()
    # Renewal far beyond the wait below: only IDLE can deliver the second message in time
    # (the wait is long only so a loaded machine cannot fail it; it returns on arrival).
    listener = listener_for(dovecot.imap_url, processor, idle_renew_seconds=60)

    with running(listener):
        processor.wait_for(1)
        dovecot.append(reply(2))
        assert processor.wait_for(2, timeout=20) == [reply(1), reply(2)]

    assert listener.connects == 1
    assert dovecot.list_folder("Processed") == [reply(1), reply(2)]


@pytest.mark.parametrize("transport", ["plain", "imaps"])
def test_mail_that_came_just_before_idle_ends_the_wait(dovecot: Mailbox, transport: str) -> None:
    # Dovecot announces such mail in the same packet as its "+ idling"; imaplib's buffered read
    # of "+ idling" took the announcement along, where polling the socket never saw it, and the
    # listener waited for the IDLE renewal (60 s here) before handling the message.
    url = dovecot.imap_url
    if transport == "imaps":
        if dovecot.server.tls_port is None:
            need_server("IMAP over TLS", "install OpenSSL: apt-get install openssl")
        url = dovecot.imaps_url
    processor = Processor()
    listener = listener_for(url, processor, idle_renew_seconds=60)
    assert listener.run_once() == 0
    dovecot.append(reply(1))  # after the last command, before IDLE
    stop = threading.Event()
    waiting = threading.Thread(target=listener._wait_for_mail, args=(stop,), daemon=True)

    waiting.start()
    waiting.join(timeout=20)
    ended_by_itself = not waiting.is_alive()
    stop.set()
    waiting.join(timeout=10)
    handled = listener.run_once()
    listener.close()

    assert ended_by_itself
    assert handled == 1
    assert processor.calls == [(1, reply(1))]


def test_an_empty_wait_in_idle_lasts_until_the_renewal(dovecot: Mailbox) -> None:
    # The other side of the test above: with nothing announced, the wait is not cut short.
    listener = listener_for(dovecot.imap_url, Processor(), idle_renew_seconds=1.5)
    assert listener.run_once() == 0
    started = time.monotonic()

    listener._wait_for_mail(threading.Event())
    waited = time.monotonic() - started
    listener.close()

    assert waited >= 1.5


def test_polls_when_the_server_has_no_idle(legacy_dovecot: Mailbox) -> None:
    processor = Processor()
    listener = listener_for(legacy_dovecot.imap_url, processor, poll_seconds=0.3)

    with running(listener):
        time.sleep(0.2)
        legacy_dovecot.append(reply(1))
        assert processor.wait_for(1, timeout=20) == [reply(1)]

    assert legacy_dovecot.list_folder("Processed") == [reply(1)]


@pytest.mark.parametrize("drop", ["kick", "kill"])
def test_reconnects_after_the_connection_drops_mid_idle(dovecot: Mailbox, drop: str) -> None:
    dovecot.append(reply(1))
    processor = Processor()
    listener = listener_for(dovecot.imap_url, processor, idle_renew_seconds=60)

    with running(listener):
        processor.wait_for(1)
        wait_until(listener.idling.is_set)
        # "kick" says BYE first; "kill" just closes the socket.
        if drop == "kick":
            dovecot.kick()
        else:
            assert dovecot.kill_sessions() >= 1
        dovecot.append(reply(2))
        dovecot.append(reply(3))
        processor.wait_for(3)
        # Back in IDLE after a new search: a second handling would have happened by now.
        wait_until(lambda: listener.handled == 3 and listener.idling.is_set())

    assert [raw for _uid, raw in processor.calls] == [reply(1), reply(2), reply(3)]
    assert listener.connects == 2
    assert dovecot.list_folder("INBOX") == []
    assert dovecot.list_folder("Processed") == [reply(1), reply(2), reply(3)]


def test_connection_lost_between_processing_and_filing_does_not_process_twice(
    dovecot: Mailbox,
) -> None:
    dovecot.append(reply(1))
    processor = Processor()

    def process_then_lose_the_connection(uid: int, raw: bytes) -> str:
        outcome = processor(uid, raw)
        if len(processor.calls) == 1:
            dovecot.kill_sessions()
        return outcome

    listener = listener_for(dovecot.imap_url, process_then_lose_the_connection)

    with running(listener):
        wait_until(lambda: listener.handled == 1)

    assert processor.calls == [(1, reply(1))]
    assert listener.connects == 2
    assert dovecot.list_folder("Processed") == [reply(1)]


def test_watchdog_replaces_a_connection_that_stopped_answering(dovecot: Mailbox) -> None:
    dovecot.append(reply(1))
    processor = Processor()
    listener = listener_for(dovecot.imap_url, processor, idle_renew_seconds=1, socket_timeout=1)

    with running(listener):
        processor.wait_for(1)
        time.sleep(0.3)
        assert dovecot.freeze_sessions() == 1
        dovecot.append(reply(2))
        assert processor.wait_for(2, timeout=20) == [reply(1), reply(2)]

    assert listener.connects == 2


def test_reconnects_after_a_server_restart_and_handles_what_arrived_meanwhile(
    dovecot: Mailbox,
) -> None:
    processor = Processor()
    listener = listener_for(
        dovecot.imap_url, processor, idle_renew_seconds=60, backoff_initial=0.2, backoff_cap=0.5
    )

    with running(listener):
        dovecot.append(reply(1))
        wait_until(lambda: listener.handled == 1)
        dovecot.server.stop()
        dovecot.deliver(reply(2))
        time.sleep(1.0)  # a few refused reconnection attempts
        dovecot.server.start()
        assert processor.wait_for(2) == [reply(1), reply(2)]

    assert listener.connects == 2
    assert dovecot.list_folder("Processed") == [reply(1), reply(2)]


def test_uidvalidity_change_is_logged_and_the_folder_handled_again(
    dovecot: Mailbox, caplog: pytest.LogCaptureFixture
) -> None:
    processor = Processor()
    listener = listener_for(dovecot.imap_url, processor)
    listener.run_once()
    before = listener.uidvalidity
    assert before is not None
    listener.close()
    dovecot.set_uidvalidity(before + 1000)
    dovecot.append(reply(1))

    caplog.clear()  # only what the second run says
    with caplog.at_level(logging.WARNING, logger="handlers.email.inbox"):
        assert listener.run_once() == 1
    listener.close()

    assert before == dovecot.uidvalidity - 1000
    assert listener.uidvalidity == before + 1000
    assert [record.getMessage() for record in caplog.records] == [
        f"IMAP {listener.url.redacted()}: UIDVALIDITY changed from {before} to {before + 1000}; "
        "handling the whole folder again"
    ]
    assert dovecot.list_folder("Processed") == [reply(1)]


@pytest.mark.parametrize("transport", ["imaps", "starttls"])
def test_tls_connections(dovecot: Mailbox, transport: str) -> None:
    if dovecot.server.tls_port is None:
        need_server("IMAP over TLS", "install OpenSSL: apt-get install openssl")
    url = dovecot.imaps_url
    if transport == "starttls":
        url = dovecot.imap_url + "?starttls=true&verify=false"
    dovecot.append(reply(1))
    listener = listener_for(url, Processor())

    assert listener.run_once() == 1
    listener.close()

    assert listener.url.security == ("tls" if transport == "imaps" else "starttls")
    assert dovecot.list_folder("Processed") == [reply(1)]


def test_wrong_password_keeps_retrying_without_showing_it(
    dovecot: Mailbox, caplog: pytest.LogCaptureFixture
) -> None:
    url = dovecot.imap_url.replace(dovecot.imap_url.split(":")[2].split("@")[0], "hunter2")
    dovecot.append(reply(1))
    processor = Processor()
    listener = listener_for(url, processor, backoff_initial=0.1, backoff_cap=0.2)

    with caplog.at_level(logging.WARNING, logger="handlers.email.inbox"), running(listener):
        time.sleep(1.5)

    assert processor.calls == []
    assert listener.connects == 0
    warnings = [record.getMessage() for record in caplog.records]
    assert len(warnings) >= 2
    assert all("LoginError" in text for text in warnings)
    assert not any("hunter2" in text for text in warnings)
    assert dovecot.list_folder("INBOX") == [reply(1)]


@pytest.mark.parametrize(
    ("failures", "rand", "expected"),
    [(1, 0.0, 0.5), (1, 1.0, 1.0), (3, 0.0, 2.0), (3, 0.5, 3.0), (10, 1.0, 60.0), (10, 0.0, 30.0)],
)
def test_reconnect_delay_doubles_with_jitter_up_to_the_cap(
    failures: int, rand: float, expected: float
) -> None:
    assert reconnect_delay(failures, initial=1.0, cap=60.0, rand=lambda: rand) == expected
