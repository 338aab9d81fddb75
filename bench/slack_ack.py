"""Slack acknowledgement latency: `closeloop web` beside a Bolt app that only acknowledges.

    python bench/slack_ack.py [--database-url URL] [--requests 2000] [--concurrency 50]
                              [--answer-processes 2] [--text help --text list]

Creates (drops first) the PostgreSQL database named in --database-url, migrates it, loads a small
network with open referrals, and starts three processes: a fake Slack Web API (the one the tests
use), `closeloop web` (uvicorn) configured against it, and a minimal FastAPI + Bolt app whose
listener only calls ack(). Then, for each --text, it sends the same number of signed `/referral`
slash commands from --concurrency concurrent clients to each app (after a warm-up that is not
counted) and prints p50/p99 acknowledgement latency, their ratio, and throughput, with the load
average of the machine before and after.

`help` is answered in the acknowledgement itself; `list` is acknowledged at once and the grid
is then read and posted to the command's response_url, by closeloop's answering processes
(SLACK_ANSWER_PROCESSES, --answer-processes; 0: by the web process itself, where that work
competes with later acknowledgements). The bench waits for every answer and reports how many
arrived, how long after their command, and when the last one came.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

# At module level: FastAPI resolves the route's (postponed) annotations from module globals.
from fastapi import Request, Response

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SECRET = "bench-signing-secret"
TOKEN = "xoxb-bench-token"
DEFAULT_DB = "postgresql://postgres@127.0.0.1:5432/closeloop_bench"
# Slack users the commands come from, linked by email to the test network's staff.
USERS = {
    "U0GRACE": "grace@heartland.example.org",
    "U0CASEY": "casey@coord.example.org",
    "U0OLIVIA": "olivia@ozark.example.org",
    "U0SAM": "sam@coord.example.org",
}
REFERRALS = 40


# -- child processes ---------------------------------------------------------------------------


def serve_fake() -> None:
    """The fake Slack Web API, in its own process so it does not share the load generator's GIL."""
    from tests.fakes.slack_api import start_fake_slack

    fake = start_fake_slack(token=TOKEN)
    for user_id, email in USERS.items():
        fake.add_user(user_id, email, email.split("@")[0].title())
    print(fake.base_url, flush=True)
    # The parent asks, one line on stdin per question, when each response_url answer arrived.
    for line in sys.stdin:
        prefix = line.strip()
        arrived = {
            call.params["hook"].removeprefix(prefix): call.at
            for call in fake.responses()
            if call.params["hook"].startswith(prefix)
        }
        print(json.dumps(arrived), flush=True)
    fake.stop()


def serve_minimal(port: int) -> None:
    """The baseline: the same stack (uvicorn, FastAPI, AsyncApp, the async handler), ack only."""
    import uvicorn
    from fastapi import FastAPI
    from slack_bolt.adapter.fastapi.async_handler import AsyncSlackRequestHandler
    from slack_bolt.app.async_app import AsyncApp

    from handlers.slack.client import make_async_web_client

    bolt = AsyncApp(
        signing_secret=SECRET,
        client=make_async_web_client(TOKEN, os.environ["SLACK_API_URL"]),
    )

    @bolt.command("/referral")
    async def referral(ack):  # type: ignore[no-untyped-def]
        await ack()

    handler = AsyncSlackRequestHandler(bolt)
    api = FastAPI()

    @api.post("/slack/events")
    async def events(request: Request) -> Response:
        return await handler.handle(request)

    @api.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    uvicorn.run(api, host="127.0.0.1", port=port, log_level="info")


# -- setting up --------------------------------------------------------------------------------


def prepare_database(url: str) -> None:
    import psycopg

    from bot.actors import actor_by_email
    from bot.runtime import Runtime
    from bot.services.directory import import_directory, parse_directory
    from bot.settings import Settings
    from storage.db import transaction
    from storage.migrate import upgrade
    from tests.network import small_network
    from tests.service.helpers import published

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    runtime = Runtime(Settings(database_url=url))
    upgrade(runtime.engine)
    with transaction(runtime.sessions) as session:
        directory = parse_directory(small_network(), source="bench")
        import_directory(session, directory=directory, source="bench")
    for n in range(REFERRALS):
        published(runtime.sessions, needs=["RES"] if n % 2 else ["BEH"])
    with transaction(runtime.sessions) as session:
        actor_by_email(session, USERS["U0GRACE"])  # the network is usable
    runtime.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(port: int, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server on port {port} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"the server on port {port} did not start")


# -- the load ----------------------------------------------------------------------------------


def signed(text: str, user_id: str, response_url: str) -> tuple[bytes, dict[str, str]]:
    body = urlencode(
        {
            "token": "unused",
            "team_id": "T0FAKE001",
            "team_domain": "bench",
            "channel_id": "C0BENCH",
            "channel_name": "bench",
            "user_id": user_id,
            "user_name": user_id.lower(),
            "command": "/referral",
            "text": text,
            "api_app_id": "A0BENCH",
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": "1.1.bench",
        }
    ).encode()
    stamp = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256)
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": "v0=" + digest.hexdigest(),
    }
    return body, headers


async def load(
    port: int, text: str, total: int, concurrency: int, hook: str
) -> tuple[list[float], list[float]]:
    """Send `total` commands; each one's response_url is `hook` + its index. Returns when each
    was sent (time.monotonic(), the clock the fake Slack stamps answers with) and its latency."""
    import aiohttp

    url = f"http://127.0.0.1:{port}/slack/events"
    users = list(USERS)
    sent = [0.0] * total
    latencies: list[float] = []
    failures: list[int] = []
    counter = iter(range(total))

    async def client(session: aiohttp.ClientSession) -> None:
        for i in counter:
            body, headers = signed(text, users[i % len(users)], f"{hook}{i}")
            sent[i] = start = time.monotonic()
            async with session.post(url, data=body, headers=headers) as answer:
                said = await answer.read()
                elapsed = time.monotonic() - start
            if answer.status != 200:
                failures.append(answer.status)
                if len(failures) == 1:
                    print(f"first failure: HTTP {answer.status}: {said[:300]!r}", file=sys.stderr)
            latencies.append(elapsed)

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(client(session) for _ in range(concurrency)))
    if failures:
        raise SystemExit(f"{len(failures)} requests failed: {sorted(set(failures))}")
    return sent, latencies


class Answers:
    """What the fake Slack process received on response_url hooks, asked for by name prefix."""

    def __init__(self, fake: subprocess.Popen[bytes]) -> None:
        assert fake.stdin is not None and fake.stdout is not None
        self._stdin, self._stdout = fake.stdin, fake.stdout

    def arrived(self, prefix: str) -> dict[int, float]:
        self._stdin.write(prefix.encode() + b"\n")
        self._stdin.flush()
        return {int(k): at for k, at in json.loads(self._stdout.readline()).items()}

    def wait(self, prefix: str, total: int, quiet: float = 30.0) -> dict[int, float]:
        """Until all `total` answers are in, or none came for `quiet` seconds (some were lost)."""
        seen, last_change = 0, time.monotonic()
        while True:
            arrived = self.arrived(prefix)
            if len(arrived) >= total:
                return arrived
            if len(arrived) != seen:
                seen, last_change = len(arrived), time.monotonic()
            elif time.monotonic() - last_change > quiet:
                return arrived
            time.sleep(0.2)


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def measure(
    port: int, text: str, total: int, concurrency: int, hook: str, answers: Answers | None
) -> dict[str, float]:
    """Acknowledgement latency; with `answers`, also when the response_url answers arrived."""
    warm = max(100, total // 10)
    run = f"{port}/{text}/"
    asyncio.run(load(port, text, warm, concurrency, f"{hook}warm/{run}"))
    if answers is not None:
        answers.wait(f"warm/{run}", warm)  # the warm-up's answers must not weigh on the run
    start = time.monotonic()
    sent, latencies = asyncio.run(load(port, text, total, concurrency, f"{hook}bench/{run}"))
    acked = time.monotonic()
    row = {
        "p50": percentile(latencies, 50) * 1000,
        "p99": percentile(latencies, 99) * 1000,
        "mean": statistics.fmean(latencies) * 1000,
        "rps": total / (acked - start),
    }
    if answers is not None:
        arrived = answers.wait(f"bench/{run}", total)
        delays = [at - sent[i] for i, at in arrived.items()] or [float("nan")]
        row |= {
            "answered": len(arrived),
            "answer p50": percentile(delays, 50) * 1000,
            "answer p99": percentile(delays, 99) * 1000,
            "last answer": (max(arrived.values(), default=acked) - start),
            "ack wall": acked - start,
        }
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_DB)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument(
        "--answer-processes",
        type=int,
        default=2,
        help="closeloop's SLACK_ANSWER_PROCESSES (0: answer in the web process)",
    )
    parser.add_argument("--text", action="append", help='command text (default: "help", "list")')
    parser.add_argument("--serve-fake", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--serve-minimal", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_fake:
        serve_fake()
        return 0
    if args.serve_minimal:
        serve_minimal(args.serve_minimal)
        return 0

    texts = args.text or ["help", "list"]
    prepare_database(args.database_url)
    me = [sys.executable, str(Path(__file__).resolve())]
    fake = subprocess.Popen(
        [*me, "--serve-fake"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=ROOT
    )
    assert fake.stdout is not None
    answers = Answers(fake)
    api_url = fake.stdout.readline().decode().strip()
    hook = api_url.removesuffix("api/") + "hooks/"
    web_port, minimal_port = free_port(), free_port()
    env = {
        **os.environ,
        "DATABASE_URL": args.database_url,
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": api_url,
        "SECRET_KEY": "bench-secret-key-not-for-production",
        "HOST": "127.0.0.1",
        "PORT": str(web_port),
        "SLACK_ANSWER_PROCESSES": str(args.answer_processes),
    }
    closeloop = Path(sys.executable).with_name("closeloop")
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "cwd": ROOT, "env": env}
    servers = [
        subprocess.Popen([str(closeloop), "web"], **quiet),  # type: ignore[call-overload]
        subprocess.Popen([*me, "--serve-minimal", str(minimal_port)], **quiet),  # type: ignore[call-overload]
    ]
    try:
        wait_healthy(web_port, servers[0])
        wait_healthy(minimal_port, servers[1])
        print(
            f"{args.requests} signed /referral commands, {args.concurrency} concurrent clients, "
            f"PostgreSQL, {os.cpu_count()} CPU(s), {args.answer_processes} answering process(es); "
            f"load average before: {load_average()}"
        )
        print(f"{'command':<10}{'app':<16}{'p50 ms':>8}{'p99 ms':>8}{'mean ms':>9}{'req/s':>8}")
        answered = []
        for text in texts:
            # Answered in the acknowledgement itself: nothing comes by response_url.
            expect = None if text.strip() == "help" else answers
            # The baseline first; closeloop's answers are waited for before the next text.
            base = measure(minimal_port, text, args.requests, args.concurrency, hook, None)
            ours = measure(web_port, text, args.requests, args.concurrency, hook, expect)
            for name, row in (("closeloop web", ours), ("ack-only Bolt", base)):
                print(
                    f"{text:<10}{name:<16}{row['p50']:>8.1f}{row['p99']:>8.1f}"
                    f"{row['mean']:>9.1f}{row['rps']:>8.0f}"
                )
            print(
                f"{text:<10}{'ratio':<16}{ours['p50'] / base['p50']:>8.2f}"
                f"{ours['p99'] / base['p99']:>8.2f}"
            )
            if expect is not None:
                answered.append((text, ours))
        print(f"load average after: {load_average()}")
        for text, row in answered:
            print(
                f"{text}: {row['answered']:.0f}/{args.requests} answers by response_url; "
                f"answer after the command p50 {row['answer p50']:.0f} ms, "
                f"p99 {row['answer p99']:.0f} ms; last answer {row['last answer']:.1f} s "
                f"after the first command (last acknowledgement: {row['ack wall']:.1f} s)"
            )
    finally:
        for process in [*servers, fake]:
            process.terminate()
        for process in [*servers, fake]:
            process.wait(timeout=10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
