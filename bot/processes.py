"""The three processes (web, worker, clock) and `serve`, which runs them together."""

from __future__ import annotations

import gc
import logging
import signal
import sys
import threading
import time
from typing import Any

from bot.runtime import Runtime

log = logging.getLogger(__name__)

# How long a thread that wants the GIL waits before the holder must let go (Python: 5 ms). The
# web process's event loop acknowledges Slack requests while use-case threads run SQLAlchemy
# code; each time the loop comes back from waiting on sockets it may wait this long for the GIL,
# several times per request, and Slack counts its 3 seconds (docs/benchmarks.md).
GIL_SWITCH_INTERVAL = 0.0005


def favour_event_loop() -> None:
    """Let the event loop win the GIL back from worker threads sooner (GIL_SWITCH_INTERVAL)."""
    sys.setswitchinterval(GIL_SWITCH_INTERVAL)


def settle_heap() -> None:
    """Free start-up garbage, then move every object alive (modules, the app, SQLAlchemy's
    metadata: about 170,000 objects in the web process) out of the garbage collector's sight.

    The collector's full pass walks all of them whenever enough new objects survive, and in the
    web process each pass stopped the event loop for 65-80 ms: every request in flight waited,
    which was the whole tail of Slack's acknowledgement latency (docs/benchmarks.md). Objects
    made later, per request, are still collected as usual."""
    gc.collect()
    gc.freeze()


def _stop_on_signals(stop: threading.Event) -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())


def start_worker(runtime: Runtime, stop: threading.Event) -> list[threading.Thread]:
    """The outbox dispatchers (one per SMTP connection) and, where IMAP is configured, the inbox
    listener, in threads."""
    # The threads take turns on the GIL; each database or socket call gives it up and, at
    # Python's 5 ms switch interval, could wait that long to get it back from another thread:
    # replies and confirmations both went faster at 0.5 ms (docs/benchmarks.md).
    sys.setswitchinterval(GIL_SWITCH_INTERVAL)
    dispatchers = runtime.dispatchers()
    threads = [
        threading.Thread(
            target=dispatcher.run_forever,
            args=(stop,),
            name="outbox" if i == 0 else f"outbox-email-{i}",
            daemon=True,
        )
        for i, dispatcher in enumerate(dispatchers)
    ]

    def wake() -> None:
        for dispatcher in dispatchers:
            dispatcher.wake()

    if runtime.settings.imap_url:
        from handlers.email.listener import inbox_listener

        listener = inbox_listener(runtime.sessions, runtime.settings, wake=wake)
        threads.append(
            threading.Thread(target=listener.run_forever, args=(stop,), name="inbox", daemon=True)
        )
    for thread in threads:
        thread.start()
    return threads


def serve_metrics(runtime: Runtime) -> None:
    """`worker` and `clock`: their own /metrics on METRICS_PORT, when set."""
    port = runtime.settings.metrics_port
    if port is None:
        return
    from prometheus_client import start_http_server

    from bot.metrics import REGISTRY

    start_http_server(port, addr=runtime.settings.host, registry=REGISTRY)
    log.info("metrics on http://%s:%d/metrics", runtime.settings.host, port)


def run_worker(runtime: Runtime) -> None:
    serve_metrics(runtime)
    stop = threading.Event()
    _stop_on_signals(stop)
    threads = start_worker(runtime, stop)
    log.info("worker started: channels %s", ", ".join(runtime.transports()))
    stop.wait()
    for thread in threads:
        thread.join(timeout=10)


def run_clock(runtime: Runtime) -> None:
    from bot.scheduler import make_scheduler

    serve_metrics(runtime)
    stop = threading.Event()
    _stop_on_signals(stop)
    from bot.jobs import catch_up

    scheduler = make_scheduler(runtime)
    catch_up(runtime)
    scheduler.start()
    log.info("clock started with %d job(s)", len(scheduler.get_jobs()))
    stop.wait()
    scheduler.shutdown(wait=False)


def serve(runtime: Runtime) -> None:
    """Web, worker and clock in one process: for one machine and a first run on a fresh clone."""
    import uvicorn

    from bot.app import create_app
    from bot.scheduler import make_scheduler

    settings = runtime.settings
    stop = threading.Event()
    threads = start_worker(runtime, stop)
    scheduler = make_scheduler(runtime)
    scheduler.start()
    # Made up in the background so the web server starts at once.
    from bot.jobs import catch_up

    threading.Thread(target=catch_up, args=(runtime,), name="catch-up", daemon=True).start()
    log.info("closeloop serving on http://%s:%d", settings.host, settings.port)
    app = create_app(settings, runtime=runtime)
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_config=None)
    server = uvicorn.Server(config)
    threading.Thread(target=_welcome, args=(runtime, server), name="welcome", daemon=True).start()
    favour_event_loop()
    settle_heap()
    try:
        server.run()
    finally:
        stop.set()
        scheduler.shutdown(wait=False)
        for thread in threads:
            thread.join(timeout=10)


def _welcome(runtime: Runtime, server: Any) -> None:
    """Once the server listens, say where it is and whom to sign in as (the demo network)."""
    from sqlalchemy.exc import SQLAlchemyError

    from bot.demo.seed import welcome
    from storage.db import transaction

    deadline = time.monotonic() + 60
    while not server.started and time.monotonic() < deadline and not server.should_exit:
        time.sleep(0.1)
    if not server.started:
        return
    try:
        with transaction(runtime.sessions) as session:
            text = welcome(session, runtime.settings)
    except SQLAlchemyError:
        # No welcome on a database that cannot answer: /healthz and the logs say why.
        log.warning("no demo welcome: the database did not answer")
        return
    if text:
        print(text, flush=True)
