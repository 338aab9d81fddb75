"""The app factory: `create_app(settings)` builds the web app; nothing happens at import."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, Response
from fastapi_offline import FastAPIOffline
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from bot.errors import DATABASE_AWAY, UserError
from bot.observe import observe
from bot.runtime import Runtime
from bot.settings import Settings
from storage.db import database_away, database_reachable

log = logging.getLogger(__name__)


def create_app(settings: Settings, *, runtime: Runtime | None = None) -> FastAPI:
    runtime = runtime or Runtime(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        authorization = getattr(_app.state, "slack_authorization", None)
        warming = asyncio.create_task(authorization.warm()) if authorization else None
        answering = getattr(_app.state, "slack_answering", None)
        starting = asyncio.create_task(answering.warm()) if answering else None
        yield
        for task in (warming, starting):
            if task is not None:
                task.cancel()
        for part in ("slack_runner", "slack_answering"):
            slack = getattr(_app.state, part, None)
            if slack is not None:
                slack.close()
        runtime.close()

    # Swagger UI (/docs) and ReDoc (/redoc) from the fastapi-offline package's own copies of
    # their scripts: the pages work on a network that cannot reach a CDN.
    app = FastAPIOffline(
        title="closeloop",
        version="0.1.0",
        lifespan=lifespan,
        static_url="/static/api-docs",
        description="The REST API. Bearer tokens: `closeloop token create --staff EMAIL`.",
    )
    app.state.runtime = runtime
    observe(app, runtime)

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        if database_reachable(runtime.engine):
            return JSONResponse({"status": "ok", "database": "reachable"})
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)

    if settings.slack_signing_secret:
        # Imported here: a deployment without Slack never loads Bolt.
        from handlers.slack.app import mount_slack

        mount_slack(app, runtime)

    # Imported here like Slack's mount, so the app module stays small.
    from handlers.api import api_router

    app.include_router(api_router())

    from handlers.fhir import fhir_router

    app.include_router(fhir_router())

    from handlers.web import mount_web
    from handlers.web.render import error_page, http_error_page, wants_page

    mount_web(app)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if wants_page(request) and exc.status_code >= 400:
            return http_error_page(request, exc.status_code)
        return await http_exception_handler(request, exc)

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> Response:
        # Starlette logs the traceback after this answer; the person gets a page, not a 500.
        if wants_page(request):
            return http_error_page(request, 500)
        return JSONResponse({"error": "internal error"}, status_code=500)

    @app.exception_handler(UserError)
    async def user_error(request: Request, exc: UserError) -> Response:
        if getattr(request.state, "web", False):
            return error_page(request, exc)
        body = {"error": exc.message, "field": exc.field, "hint": exc.hint}
        return JSONResponse(body, status_code=exc.status)

    @app.exception_handler(DBAPIError)
    async def database_error(request: Request, exc: DBAPIError) -> Response:
        # The database restarting is not a bug: a clear 503 the client may retry (the
        # transaction was rolled back, so nothing is half-written), without a traceback.
        if not database_away(exc):
            raise exc
        log.warning("database unreachable: %s %s", request.method, request.url.path)
        answer = await user_error(request, DATABASE_AWAY)
        answer.headers["Retry-After"] = "30"
        return answer

    return app
