"""Email replies end to end: N replies in a real IMAP inbox, until each is applied and confirmed.

    python bench/email_replies.py [--replies 1000] [--runs 3] [--database-url URL]

Starts a private Dovecot (the test server) and an SMTP sink in a process of its own (aiosmtpd
counting what it accepts, as a real relay would be: not sharing our interpreter), creates a
database (a new SQLite file by default; a PostgreSQL URL is emptied first: DROP SCHEMA public
CASCADE), loads the test network and publishes N/4 referrals to one program. It then appends N
replies to a fresh mailbox, as the gatekeeper and the provider would write them (Gmail-style,
quoting the notification): for each referral "assign dana@…", "accept", "status enrolled" and
"note …", in that order. Only then is the worker started (`bot.processes.start_worker`: the
IMAP listener and the outbox dispatcher over SMTP, in threads of this process), and the clock
runs until every reply is applied and every confirmation has reached the SMTP server.

The floor, measured in the same run on the same N messages in mailboxes of their own: imapclient
fetching and moving them to another folder one at a time, and in batches of 100 (the least any
IMAP client must do). It also times `read_inbound` alone. Prints each run, then min / median /
max, the ratios to the floor and the load average.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, func, select, text  # noqa: E402
from sqlalchemy.pool import NullPool  # noqa: E402

from bot.processes import start_worker  # noqa: E402
from bot.runtime import Runtime  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.texts import render_email  # noqa: E402
from handlers.email.replies import read_inbound  # noqa: E402
from handlers.email.tokens import make_token, reply_address  # noqa: E402
from storage.db import make_engine, transaction  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import InboundEmail, Referral, Staff  # noqa: E402

SECRET = "bench-secret-for-reply-tokens-0123456789"
MAIL_FROM = "closeloop <notify@closeloop.example.org>"
REPLY_TO = "replies@closeloop.example.org"
GATEKEEPER = "grace@heartland.example.org"
PROVIDER = "dana@heartland.example.org"
# A referral's emails share one subject (one thread); what happened is the body's first line.
CONFIRMATION_EVENT = b"recorded: your reply"
FLOOR_BATCH = 100
COMMANDS = (
    (GATEKEEPER, f"assign {PROVIDER}"),
    (PROVIDER, "accept"),
    (PROVIDER, "status enrolled"),
    (PROVIDER, "note called the family, intake visit on Thursday"),
)


def prepare_database(url: str | None, workdir: Path) -> str:
    if url is None:
        url = f"sqlite:///{workdir / 'bench.db'}"
    url = Settings(database_url=url, secret_key=SECRET).database_url
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    upgrade(engine)
    engine.dispose()
    return url


def load_network(runtime: Runtime, referrals: int) -> list[tuple[int, str]]:
    """The test network and `referrals` published referrals; their (id, number)."""
    from bot.services.directory import import_directory, parse_directory
    from tests.network import small_network
    from tests.service.helpers import published

    with transaction(runtime.sessions) as session:
        directory = parse_directory(small_network(), source="bench")
        import_directory(session, directory=directory, source="bench")
    numbers = [published(runtime.sessions) for _ in range(referrals)]
    with transaction(runtime.sessions) as session:
        rows = session.execute(
            select(Referral.id, Referral.number).where(Referral.number.in_(numbers))
        ).all()
    return sorted((row[0], row[1] or "") for row in rows)


def build_replies(runtime: Runtime, referrals: list[tuple[int, str]]) -> list[bytes]:
    """Each person's reply to their own notification, quoting it, in the order they would come."""
    with transaction(runtime.sessions) as session:
        rows = session.execute(select(Staff.email, Staff.id))
        ids = {email: staff_id for email, staff_id in rows}
    issued = runtime.clock()
    replies: list[bytes] = []
    serial = 0
    for sender, command in COMMANDS:
        for referral_id, number in referrals:
            serial += 1
            token = make_token(
                SECRET,
                staff_id=ids[sender],
                subject_kind="r",
                subject_id=referral_id,
                issued=issued,
            )
            notice = render_email(
                "referral_published",
                {
                    "number": number,
                    "where": "Boone County",
                    "needs": [{"code": "RES", "name": "Residential support"}],
                    "urgency": "routine",
                    "age_days": 0,
                    "aging": False,
                    "audience": "gatekeeper",
                    "program": "Heartland Residential",
                    "recipient_name": "Grace Holt",
                },
            )
            quoted = "\n".join(f"> {line}" for line in notice.text.splitlines())
            message = EmailMessage()
            message["From"] = sender
            message["To"] = reply_address(REPLY_TO, token)
            message["Subject"] = f"Re: {notice.subject}"
            message["Message-ID"] = f"<bench-{serial}@heartland.example.org>"
            message["In-Reply-To"] = f"<closeloop.{serial}@closeloop.example.org>"
            message.set_content(
                f"{command}\n\nOn Mon, Mar 2, 2026 at 9:00 AM closeloop wrote:\n{quoted}\n"
            )
            replies.append(message.as_bytes(policy=SMTP))
    return replies


class _Counting:
    """aiosmtpd handler of the sink process: counts messages, and confirmations by subject."""

    def __init__(self, total: Any, confirmations: Any) -> None:
        self.total = total
        self.confirmations = confirmations

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or b""
        with self.total.get_lock():
            self.total.value += 1
        if CONFIRMATION_EVENT in raw:
            with self.confirmations.get_lock():
                self.confirmations.value += 1
        return "250 Message accepted for delivery"


def _sink(port: int, total: Any, confirmations: Any, ready: Any, stop: Any) -> None:
    from aiosmtpd.controller import Controller

    controller = Controller(_Counting(total, confirmations), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    stop.wait()
    controller.stop()


class SmtpSink:
    """An SMTP server in a child process; `total` and `confirmations` count what it accepted."""

    def __init__(self) -> None:
        from tests.servers import free_port

        context = multiprocessing.get_context("spawn")
        self.port = free_port()
        self._total = context.Value("i", 0)
        self._confirmations = context.Value("i", 0)
        self._ready = context.Event()
        self._stop = context.Event()
        self._process = context.Process(
            target=_sink,
            args=(self.port, self._total, self._confirmations, self._ready, self._stop),
            daemon=True,
        )

    def start(self) -> None:
        self._process.start()
        if not self._ready.wait(30):
            raise SystemExit("the SMTP sink did not start")

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    @property
    def total(self) -> int:
        return int(self._total.value)

    @property
    def confirmations(self) -> int:
        return int(self._confirmations.value)

    def stop(self) -> None:
        self._stop.set()
        self._process.join(timeout=10)
        if self._process.is_alive():
            self._process.kill()


def floor(dovecot: Any, replies: list[bytes], batch: int) -> float:
    """Seconds for imapclient to fetch every reply and move it to another folder, `batch` UIDs
    per FETCH and per MOVE, on a mailbox of its own."""
    mailbox = dovecot.add_user()
    with mailbox._client() as client:
        for raw in replies:
            client.append("INBOX", raw)
        client.create_folder("Done")
        client.select_folder("INBOX")
        start = time.perf_counter()
        uids = sorted(client.search("UNDELETED"))
        for at in range(0, len(uids), batch):
            chunk = uids[at : at + batch]
            fetched = client.fetch(chunk, ["BODY.PEEK[]"])
            assert len(fetched) == len(chunk)
            client.move(chunk, "Done")
        took = time.perf_counter() - start
    return took


def one_run(
    dovecot: Any, sink: SmtpSink, url: str | None, workdir: Path, referrals: int
) -> tuple[float, float, list[bytes]]:
    """Seconds until all replies were applied and until all confirmations reached the sink."""
    total = referrals * len(COMMANDS)
    mailbox = dovecot.add_user()
    url = prepare_database(url, workdir)
    settings = Settings(
        database_url=url,
        smtp_url=sink.url,
        imap_url=mailbox.imap_url,
        mail_from=MAIL_FROM,
        reply_to=REPLY_TO,
        secret_key=SECRET,
    )
    runtime = Runtime(settings)
    pairs = load_network(runtime, referrals)
    runtime.dispatcher().drain()  # the publication emails, before the clock starts
    replies = build_replies(runtime, pairs)
    with mailbox._client() as client:
        for raw in replies:
            client.append("INBOX", raw)
    # The watcher reads without the worker's engine: no write lock, no BEGIN IMMEDIATE.
    watcher = create_engine(url, poolclass=NullPool)
    confirmed_before = sink.confirmations

    def applied() -> int:
        with watcher.connect() as connection:
            return connection.scalar(select(func.count()).select_from(InboundEmail)) or 0

    stop = threading.Event()
    start = time.perf_counter()
    threads = start_worker(runtime, stop)
    applied_at = confirmed_at = None
    try:
        while confirmed_at is None or applied_at is None:
            time.sleep(0.02)
            now = time.perf_counter() - start
            if applied_at is None and applied() >= total:
                applied_at = now
            if confirmed_at is None and sink.confirmations - confirmed_before >= total:
                confirmed_at = now
            if now > 900:
                raise SystemExit(
                    f"timed out: {applied()} applied, "
                    f"{sink.confirmations - confirmed_before} of {total} confirmations"
                )
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    with watcher.connect() as connection:
        outcomes = dict(
            connection.execute(
                select(InboundEmail.reason, func.count()).group_by(InboundEmail.reason)
            ).all()
        )
    watcher.dispose()
    runtime.close()
    if outcomes != {"applied": total}:
        raise SystemExit(f"not every reply was applied: {outcomes}")
    if url.startswith("sqlite"):
        (workdir / "bench.db").unlink(missing_ok=True)
    return applied_at, confirmed_at, replies


def spread(values: list[float]) -> str:
    return (
        f"min {min(values):.2f} s, median {statistics.median(values):.2f} s, "
        f"max {max(values):.2f} s"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--replies", type=int, default=1000, help="a multiple of 4")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database-url", default=None, help="default: a new SQLite file")
    args = parser.parse_args()
    if shutil.which("dovecot") is None or shutil.which("doveadm") is None:
        print("bench/email_replies.py needs Dovecot: apt-get install dovecot-imapd")
        return 2
    from tests.servers.dovecot import start_dovecot

    referrals = max(1, args.replies // len(COMMANDS))
    total = referrals * len(COMMANDS)
    sink = SmtpSink()
    sink.start()
    dovecot = start_dovecot()
    workdir = Path(tempfile.mkdtemp(prefix="closeloop-bench-email-"))
    load_before = os.getloadavg()
    try:
        engine_name = "postgresql" if (args.database_url or "").startswith("postgres") else "sqlite"
        print(f"database: {engine_name}; {referrals} referrals, {total} replies, {args.runs} runs")
        applied: list[float] = []
        confirmed: list[float] = []
        floors_one: list[float] = []
        floors_batch: list[float] = []
        for run in range(1, args.runs + 1):
            applied_s, confirmed_s, replies = one_run(
                dovecot, sink, args.database_url, workdir, referrals
            )
            one = floor(dovecot, replies, 1)
            batched = floor(dovecot, replies, FLOOR_BATCH)
            applied.append(applied_s)
            confirmed.append(confirmed_s)
            floors_one.append(one)
            floors_batch.append(batched)
            print(
                f"run {run}: all applied {applied_s:.2f} s, all confirmed {confirmed_s:.2f} s; "
                f"floor: one at a time {one:.2f} s, batched by {FLOOR_BATCH} {batched:.2f} s"
            )
        reading = Settings(database_url="sqlite://", secret_key=SECRET)
        start = time.perf_counter()
        for raw in replies:
            read_inbound(raw, reading)
        parse_rate = total / (time.perf_counter() - start)
        load_after = os.getloadavg()
        print(f"all applied:   {spread(applied)}")
        print(f"all confirmed: {spread(confirmed)}")
        print(f"floor, one at a time: {spread(floors_one)}")
        print(f"floor, batched by {FLOOR_BATCH}: {spread(floors_batch)}")
        median_confirmed = statistics.median(confirmed)
        print(
            f"median all-confirmed / median floor: "
            f"{median_confirmed / statistics.median(floors_one):.1f}x one at a time, "
            f"{median_confirmed / statistics.median(floors_batch):.0f}x batched"
        )
        print(f"read_inbound alone: {parse_rate:,.0f} msg/s")
        print(
            "load average (1, 5, 15 min): before "
            + ", ".join(f"{x:.2f}" for x in load_before)
            + "; after "
            + ", ".join(f"{x:.2f}" for x in load_after)
        )
        return 0
    finally:
        dovecot.close()
        sink.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
