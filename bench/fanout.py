"""Outbound email: publishing a statewide referral to 3,004 people, then delivering it by SMTP.

    python bench/fanout.py [--programs 3001] [--runs 3] [--database-url URL] [--profile]

Creates a database (PostgreSQL by default, from TEST_DATABASE_URL; it is emptied first: DROP
SCHEMA public CASCADE), loads the test network plus PROGRAMS statewide programs of one agency,
each with a gatekeeper of its own, and starts an aiosmtpd server in a child process
(bench/sink.py). Each run publishes one statewide referral (3,002 gatekeepers and 2 coordinators
are told: 3,004 outbox rows), times that transaction, then times ONE worker's dispatchers
(`--smtp-connections`, default SMTP_CONNECTIONS' default: one dispatcher thread per connection)
over SMTP until the server has every message. The floor is measured against the same server in
the same run: smtplib sending 3,004 ready-made messages over one connection, over as many
connections as the worker's (threads), and with a connection per message. `--profile` runs the
dispatchers once under py-spy instead (it must be installed).
"""

from __future__ import annotations

import argparse
import os
import signal
import smtplib
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select, text  # noqa: E402

from bench.sink import SmtpSink, doubles  # noqa: E402
from bot.processes import GIL_SWITCH_INTERVAL  # noqa: E402
from bot.runtime import Runtime  # noqa: E402
from bot.settings import Settings  # noqa: E402
from storage.db import make_engine, transaction  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import OutboxMessage  # noqa: E402

SECRET = "bench-secret-for-reply-tokens-0123456789"
MAIL_FROM = "closeloop <notify@closeloop.example.org>"


def prepare_database(url: str) -> str:
    url = Settings(database_url=url, secret_key=SECRET).database_url
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    upgrade(engine)
    engine.dispose()
    return url


def statewide_network(programs: int) -> dict[str, Any]:
    """The test network and `programs` statewide behaviour-support programs, one gatekeeper each."""
    from tests.network import SIGNED, small_network

    network = small_network()
    network["agencies"].append(
        {
            "key": "statewide",
            "name": "Statewide Supports",
            "mou_signed_on": SIGNED,
            "mou_expires_on": "2027-01-04",
            "programs": [
                {
                    "key": f"sw-{i}",
                    "name": f"Statewide Supports {i}",
                    "services": ["BEH"],
                    "counties": "all",
                }
                for i in range(programs)
            ],
        }
    )
    network["staff"].extend(
        {
            "email": f"gk{i}@statewide.example.org",
            "name": f"Gatekeeper {i}",
            "agency": "statewide",
            "user_mou_signed_on": SIGNED,
            "roles": [{"role": "gatekeeper", "program": f"sw-{i}"}],
        }
        for i in range(programs)
    )
    return network


def load_network(runtime: Runtime, programs: int) -> None:
    from bot.services.directory import import_directory, parse_directory

    with transaction(runtime.sessions) as session:
        directory = parse_directory(statewide_network(programs), source="bench")
        import_directory(session, directory=directory, source="bench")


def publish(runtime: Runtime) -> tuple[float, int]:
    """Publish one statewide referral; (seconds, outbox rows written)."""
    from bot.actors import actor_by_email
    from bot.domain.vocab import Channel
    from bot.services import referrals
    from tests.network import COORD
    from tests.service.helpers import draft

    with transaction(runtime.sessions) as session:
        number = draft(session, COORD, needs=["BEH"], counties=[], statewide=True)
        before = session.scalar(select(func.count()).select_from(OutboxMessage)) or 0
    started = time.perf_counter()
    with transaction(runtime.sessions) as session:
        referrals.publish_referral(
            session, actor=actor_by_email(session, COORD), number=number, channel=Channel.API
        )
    took = time.perf_counter() - started
    with transaction(runtime.sessions) as session:
        after = session.scalar(select(func.count()).select_from(OutboxMessage)) or 0
    return took, after - before


def deliver(runtime: Runtime, sink: SmtpSink, expected: int) -> tuple[float, int, float]:
    """One worker's dispatchers (one per SMTP connection, `Runtime.dispatchers`) until the
    server holds `expected` more messages; (seconds, doubles, CPU seconds of this process: every
    thread of the dispatchers, not the server's or the database's)."""
    sink.reset()
    sys.setswitchinterval(GIL_SWITCH_INTERVAL)  # as `closeloop worker` runs them
    stop = threading.Event()
    threads = [
        threading.Thread(target=dispatcher.run_forever, args=(stop,), kwargs={"idle_seconds": 0.05})
        for dispatcher in runtime.dispatchers()
    ]
    started, cpu = time.perf_counter(), time.process_time()
    for thread in threads:
        thread.start()
    took = sink.wait_for(expected, timeout=600)
    cpu = time.process_time() - cpu
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    if took is None:
        raise SystemExit(f"only {sink.count()} of {expected} messages arrived")
    return time.perf_counter() - started, doubles(sink.ids()), cpu


def floor(sink: SmtpSink, count: int, *, reuse: bool, connections: int = 1) -> tuple[float, float]:
    """smtplib sending `count` ready-made messages, over `connections` reused connections in
    threads of their own, or a connection per message; (seconds, CPU seconds of this process)."""
    message = EmailMessage()
    message["From"] = MAIL_FROM
    message["Subject"] = "[closeloop] New referral R-2026-000001: Behaviour support, Statewide"
    message.set_content("A new referral was published.\n" * 20)
    raw = message.as_bytes()

    def send(numbers: range) -> None:
        smtp = smtplib.SMTP("127.0.0.1", sink.port) if reuse else None
        for i in numbers:
            if smtp is None:
                with smtplib.SMTP("127.0.0.1", sink.port) as one:
                    one.sendmail(
                        "notify@closeloop.example.org", [f"gk{i}@statewide.example.org"], raw
                    )
            else:
                smtp.sendmail("notify@closeloop.example.org", [f"gk{i}@statewide.example.org"], raw)
        if smtp is not None:
            smtp.quit()

    sink.reset()
    started, cpu = time.perf_counter(), time.process_time()
    senders = [
        threading.Thread(target=send, args=(range(k, count, connections),))
        for k in range(connections)
    ]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join()
    took, cpu = time.perf_counter() - started, time.process_time() - cpu
    if sink.count() != count:
        raise SystemExit(f"floor: {sink.count()} of {count} arrived")
    return took, cpu


def spread(values: list[float]) -> str:
    return f"min {min(values):.3g} / median {statistics.median(values):.3g} / max {max(values):.3g}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--programs", type=int, default=3001)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database-url", default=os.environ.get("TEST_DATABASE_URL"))
    parser.add_argument(
        "--smtp-connections", type=int, default=Settings.model_fields["smtp_connections"].default
    )
    parser.add_argument("--profile", action="store_true", help="run once under py-spy")
    parser.add_argument("--profile-output", default="fanout-profile.txt")
    args = parser.parse_args()
    if not args.database_url:
        raise SystemExit("give --database-url or set TEST_DATABASE_URL (PostgreSQL)")
    with SmtpSink() as sink, tempfile.TemporaryDirectory() as workdir:
        url = prepare_database(args.database_url)
        settings = Settings(
            database_url=url,
            secret_key=SECRET,
            smtp_url=sink.url,
            mail_from=MAIL_FROM,
            reply_to="replies@closeloop.example.org",
            outbox_log=str(Path(workdir) / "console.log"),
            smtp_connections=args.smtp_connections,
        )
        runtime = Runtime(settings)
        started = time.perf_counter()
        load_network(runtime, args.programs)
        print(
            f"network of {args.programs + 5} programs loaded "
            f"in {time.perf_counter() - started:.1f} s"
        )
        if args.profile:
            profile(runtime, sink, args.profile_output)
            return
        connections = args.smtp_connections
        publishing, ours, one_conn, per_message, same_conns = [], [], [], [], []
        cpu_ours, cpu_floor = [], []
        for run in range(1, args.runs + 1):
            took, rows = publish(runtime)
            publishing.append(took)
            seconds, doubled, cpu = deliver(runtime, sink, rows)
            ours.append(rows / seconds)
            cpu_ours.append(1000 * cpu / rows)
            floor_seconds, floor_cpu = floor(sink, rows, reuse=True)
            one_conn.append(rows / floor_seconds)
            cpu_floor.append(1000 * floor_cpu / rows)
            per_message.append(rows / floor(sink, rows, reuse=False)[0])
            if connections > 1:
                same = floor(sink, rows, reuse=True, connections=connections)[0]
                same_conns.append(rows / same)
            print(
                f"run {run}: publish {rows} rows {took:.2f} s; delivered in {seconds:.2f} s = "
                f"{rows / seconds:.0f}/s (doubles {doubled}), CPU {cpu_ours[-1]:.2f} ms/message; "
                f"floor one connection {one_conn[-1]:.0f}/s (CPU {cpu_floor[-1]:.2f} ms/message), "
                f"connection per message {per_message[-1]:.0f}/s; "
                + (f"{connections} connections {same_conns[-1]:.0f}/s; " if same_conns else "")
                + f"load {os.getloadavg()[0]:.2f}",
                flush=True,
            )
        print(f"publish (s): {spread(publishing)}")
        print(f"closeloop, {connections} SMTP connection(s) (messages/s): {spread(ours)}")
        print(f"closeloop CPU (ms/message, this process): {spread(cpu_ours)}")
        print(f"floor, one connection (messages/s): {spread(one_conn)}")
        print(f"floor, one connection CPU (ms/message): {spread(cpu_floor)}")
        print(f"floor, connection per message (messages/s): {spread(per_message)}")
        if same_conns:
            print(f"floor, {connections} connections (messages/s): {spread(same_conns)}")
            print(
                f"ratio closeloop / {connections}-connection floor (medians): "
                f"{statistics.median(ours) / statistics.median(same_conns):.2f}"
            )
        print(
            f"ratio closeloop / one-connection floor (medians): "
            f"{statistics.median(ours) / statistics.median(one_conn):.2f}"
        )
        print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        runtime.close()


def profile(runtime: Runtime, sink: SmtpSink, output: str) -> None:
    """Publish, then deliver, each under py-spy (sampling this process): OUTPUT.publish and
    OUTPUT.deliver, in py-spy's raw (collapsed stack) format."""
    spy_bin = str(Path(sys.executable).parent / "py-spy")

    def spy(path: str) -> subprocess.Popen[bytes]:
        command = [spy_bin, "record", "--pid", str(os.getpid()), "--format", "raw"]
        command += ["--output", path, "--rate", "250", "--nonblocking", "--threads", "--gil"]
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        time.sleep(1.0)
        return process

    spying = spy(f"{output}.publish")
    took, rows = publish(runtime)
    spying.send_signal(signal.SIGINT)
    spying.wait(timeout=60)
    print(f"publish {rows} rows {took:.2f} s")
    spying = spy(f"{output}.deliver")
    seconds, _, _ = deliver(runtime, sink, rows)
    spying.send_signal(signal.SIGINT)
    spying.wait(timeout=60)
    print(f"delivered {rows} in {seconds:.2f} s = {rows / seconds:.0f}/s; profiles in {output}.*")


if __name__ == "__main__":
    main()
