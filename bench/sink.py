"""An aiosmtpd server in a child process that counts what it receives, for benchmarks and drills.

It runs the test suite's server (tests/servers/smtp.py) in a process of its own, so its event
loop does not compete with the code under measurement for one interpreter's lock, and records
each message's Message-ID only (a regex over the raw bytes, not a parse). The parent can make it
slow (seconds per message, like a tarpitting relay), stop it and start it again on the same port.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sys
import time
from collections import Counter
from multiprocessing import get_context
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

_MESSAGE_ID = re.compile(rb"^Message-ID:\s*(<[^>\r\n]+>)", re.IGNORECASE | re.MULTILINE)


class SmtpSink:
    """The parent's handle on the child server: `url`, `ids()`, `slow()`, `stop()`, `start()`."""

    def __init__(self) -> None:
        context = get_context("spawn")
        self._pipe, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child,), name="smtp-sink", daemon=True)
        self._process.start()
        self.port: int = self._pipe.recv()

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def _ask(self, *request: Any) -> Any:
        self._pipe.send(request)
        return self._pipe.recv()

    def ids(self) -> list[str]:
        """Message-IDs of every message accepted so far, in arrival order (repeats kept)."""
        result: list[str] = self._ask("ids")
        return result

    def count(self) -> int:
        result: int = self._ask("count")
        return result

    def wait_for(self, count: int, timeout: float) -> float | None:
        """Seconds until `count` messages arrived; None when they did not within `timeout`.
        The child watches its own count, so waiting costs the measured process nothing."""
        started = time.monotonic()
        arrived: bool = self._ask("wait", count, timeout)
        return time.monotonic() - started if arrived else None

    def slow(self, seconds: float) -> None:
        """Take `seconds` to answer each DATA (0: at once)."""
        self._ask("slow", seconds)

    def stop(self) -> None:
        """Stop listening and drop every connection, as a relay that went down."""
        self._ask("stop")

    def start(self) -> None:
        self._ask("start")

    def reset(self) -> None:
        self._ask("reset")

    def close(self) -> None:
        with contextlib.suppress(EOFError, OSError):
            self._ask("exit")
        self._process.join(timeout=5)
        if self._process.is_alive():
            self._process.kill()

    def __enter__(self) -> SmtpSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _serve(pipe: Connection) -> None:
    from aiosmtpd.smtp import SMTP, Envelope, Session

    from tests.servers.smtp import SmtpRecorder, SmtpServer

    class Counting(SmtpRecorder):
        delay: float = 0.0
        seen: list[str]

        async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
            if self.delay:
                await asyncio.sleep(self.delay)
            match = _MESSAGE_ID.search(envelope.original_content or b"")
            self.seen.append(match.group(1).decode() if match else "")
            return "250 Message accepted for delivery"

    recorder = Counting()
    recorder.seen = []
    server = SmtpServer(recorder)
    server.start()
    pipe.send(server.port)
    while True:
        try:
            request = pipe.recv()
        except EOFError:
            break
        what = request[0]
        if what == "ids":
            pipe.send(list(recorder.seen))
        elif what == "count":
            pipe.send(len(recorder.seen))
        elif what == "wait":
            deadline = time.monotonic() + float(request[2])
            while len(recorder.seen) < request[1] and time.monotonic() < deadline:
                time.sleep(0.002)
            pipe.send(len(recorder.seen) >= request[1])
        elif what == "slow":
            recorder.delay = float(request[1])
            pipe.send(None)
        elif what == "stop":
            server.drop_connections()
            server.stop()
            pipe.send(None)
        elif what == "start":
            server.start()
            pipe.send(None)
        elif what == "reset":
            recorder.seen = []
            pipe.send(None)
        elif what == "exit":
            pipe.send(None)
            break
    with contextlib.suppress(Exception):  # already stopped by a drill
        server.stop()


def doubles(ids: list[str]) -> int:
    """How many messages arrived more than once (each extra copy counts)."""
    return sum(n - 1 for n in Counter(ids).values() if n > 1)
