"""The web app's request ids, request and Slack acknowledgement timings, and GET /metrics."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

from fastapi import FastAPI
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.logs import bound
from bot.metrics import HTTP_SECONDS, REGISTRY, SLACK_ACK_SECONDS, watch_database
from bot.runtime import Runtime

# A caller's X-Request-ID is kept when it looks like an id (a proxy's), else one is made.
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
SLACK_PATH = "/slack/events"


class RequestIds:
    """Plain ASGI (not BaseHTTPMiddleware, which adds a task per request to Slack's 3 seconds):
    binds a request id for the log lines of the request, returns it as X-Request-ID, and times
    the request by route; a Slack request's time is its acknowledgement's."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = _header(scope, b"x-request-id")
        request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex[:16]
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                _timed(scope, status, time.perf_counter() - started)
            await send(message)

        with bound(request_id=request_id):
            await self.app(scope, receive, send_with_id)


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return ""


def _timed(scope: Scope, status: int, elapsed: float) -> None:
    route: Any = scope.get("route")
    template = getattr(route, "path", None) or "unmatched"
    HTTP_SECONDS.labels(template, f"{status // 100}xx").observe(elapsed)
    if scope.get("path") == SLACK_PATH:
        SLACK_ACK_SECONDS.observe(elapsed)


def observe(app: FastAPI, runtime: Runtime) -> None:
    watch_database(runtime.engine)
    app.add_middleware(RequestIds)

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
