"""What an admin watches: /metrics, request ids, and JSON log lines carrying their ids."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.orm import Session, sessionmaker

from bot.app import create_app
from bot.delivery import Notification, Receipt
from bot.jobs import run_job
from bot.logs import configure_logging
from bot.metrics import MeasuredTransport
from bot.runtime import Runtime
from bot.settings import Settings
from tests.adapter.web.conftest import csrf_of
from tests.conftest import Clock
from tests.network import COORD


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def _metrics(http: httpx.AsyncClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = await http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return _samples(response.text)


@pytest.mark.anyio
async def test_metrics_show_outbox_depth_deliveries_and_job_runs(
    network: sessionmaker[Session], settings: Settings, clock: Clock, capsys: Any
) -> None:
    runtime = Runtime(settings, clock=clock)
    app = create_app(settings, runtime=runtime)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://closeloop.test"
        ) as http:
            before = await _metrics(http)
            form = await http.get("/sign-in")
            await http.post("/sign-in", data={"email": COORD, "csrf_token": csrf_of(form.text)})
            waiting = await _metrics(http)
            assert (
                waiting[("closeloop_outbox_depth", (("channel", "console"), ("state", "pending")))]
                == 1
            )
            assert runtime.dispatcher().drain() == 1
            run_job("thirty_day_reminders", runtime)
            after = await _metrics(http)
    finally:
        runtime.close()
    assert ("closeloop_outbox_depth", (("channel", "console"), ("state", "pending"))) not in after
    latency = ("closeloop_delivery_latency_seconds_count", (("channel", "console"),))
    assert after[latency] - before.get(latency, 0) == 1
    delivered = ("closeloop_deliveries_total", (("channel", "console"), ("result", "delivered")))
    assert after[delivered] - before.get(delivered, 0) == 1
    runs = ("closeloop_job_runs_total", (("job", "thirty_day_reminders"), ("result", "ok")))
    assert after[runs] - before.get(runs, 0) == 1
    ack = ("closeloop_slack_ack_latency_seconds_count", ())
    assert ack in after
    assert "Subject:" in capsys.readouterr().out  # the console printed the sign-in email


@pytest.mark.anyio
async def test_every_response_carries_a_request_id(
    network: sessionmaker[Session], settings: Settings, clock: Clock
) -> None:
    runtime = Runtime(settings, clock=clock)
    app = create_app(settings, runtime=runtime)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://closeloop.test"
        ) as http:
            made = await http.get("/healthz")
            kept = await http.get("/healthz", headers={"X-Request-ID": "proxy-42"})
            refused = await http.get("/healthz", headers={"X-Request-ID": "bad id\twith space"})
    finally:
        runtime.close()
    assert len(made.headers["x-request-id"]) == 16
    assert kept.headers["x-request-id"] == "proxy-42"
    assert refused.headers["x-request-id"] != "bad id\twith space"


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    written = io.StringIO()
    configure_logging("json", stream=written)
    try:
        yield written
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)


class _LoggingTransport:
    def deliver(self, notification: Notification) -> Receipt:
        logging.getLogger("test.transport").info("handing over")
        return Receipt(external_ref="x")


def test_json_logs_are_one_object_per_line_with_the_job_or_message_id(
    network: sessionmaker[Session], settings: Settings, clock: Clock, json_logs: io.StringIO
) -> None:
    runtime = Runtime(settings, clock=clock)
    try:
        run_job("overdue_escalations", runtime)
        measured = MeasuredTransport(_LoggingTransport())
        measured.deliver(
            Notification(
                id=987,
                key="k",
                channel="console",
                kind="x",
                address="a",
                staff_id=None,
                referral_id=None,
            )
        )
    finally:
        runtime.close()
    lines = [json.loads(line) for line in json_logs.getvalue().splitlines()]
    job = next(line for line in lines if line["logger"] == "bot.jobs")
    assert job["message"] == "job overdue_escalations wrote 0 notification(s)"
    assert job["job"] == "overdue_escalations" and len(job["run"]) == 12
    assert job["level"] == "INFO" and "time" in job
    handed = next(line for line in lines if line["logger"] == "test.transport")
    assert handed["message_id"] == "987" and handed["channel"] == "console"


@pytest.mark.anyio
async def test_api_docs_are_served_from_the_package_without_a_cdn(
    network: sessionmaker[Session], settings: Settings, clock: Clock
) -> None:
    runtime = Runtime(settings, clock=clock)
    app = create_app(settings, runtime=runtime)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://closeloop.test"
        ) as http:
            pages = {path: await http.get(path) for path in ("/docs", "/redoc")}
            assets = [
                await http.get(f"/static/api-docs/{name}")
                for name in ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js")
            ]
    finally:
        runtime.close()
    for page in pages.values():
        assert page.status_code == 200
        assert "/static/api-docs/" in page.text
        assert "cdn" not in page.text.lower() and "fonts.googleapis" not in page.text
    assert [a.status_code for a in assets] == [200, 200, 200]
    assert all(len(a.content) > 100_000 for a in assets)
