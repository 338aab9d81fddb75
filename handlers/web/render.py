"""Pages from templates/web/: the layout's nav and signed-in name, the CSRF cookie, error pages."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bot.errors import UserError
from bot.services.sign_in import SignedOut
from bot.settings import Settings
from bot.signing import mac_of, new_nonce, verify_mac
from bot.texts import render

SESSION_COOKIE = "closeloop_session"
CSRF_COOKIE = "closeloop_csrf"
CSRF_FIELD = "csrf_token"
CSRF_PURPOSE = "web-csrf"


class CsrfRefused(UserError):
    status = 403


def settings_of_request(request: Request) -> Settings:
    settings: Settings = request.app.state.runtime.settings
    return settings


def page(request: Request, name: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    """templates/web/<name> in the layout; sets the CSRF cookie its forms are bound to."""
    settings = settings_of_request(request)
    csrf = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "csrf", None)
    new = csrf is None
    if csrf is None:
        csrf = new_nonce()
        request.state.csrf = csrf
    html = render(
        f"web/{name}",
        nav=getattr(request.app.state, "web_nav", []),
        path=request.url.path,
        staff_name=getattr(request.state, "staff_name", None),
        csrf_field=CSRF_FIELD,
        csrf_token=mac_of(settings.secret_key, CSRF_PURPOSE, csrf),
        timezone=settings.timezone,
        **context,
    )
    response = HTMLResponse(html, status_code=status)
    if new:
        response.set_cookie(
            CSRF_COOKIE,
            csrf,
            httponly=True,
            samesite="lax",
            secure=settings.secure_cookies,
            path="/",
        )
    return response


async def checked_form(request: Request) -> dict[str, str]:
    """A POSTed form's fields, once its CSRF token matched the browser's CSRF cookie."""
    body = (await request.body()).decode("utf-8", "replace")
    form = dict(parse_qsl(body, keep_blank_values=True))
    settings = settings_of_request(request)
    cookie = request.cookies.get(CSRF_COOKIE)
    sent = form.get(CSRF_FIELD, "")
    if not cookie or not verify_mac(settings.verifying_keys, CSRF_PURPOSE, cookie, sent):
        raise CsrfRefused(
            "This form was not sent from a page of this site, or it is too old.",
            field=CSRF_FIELD,
            hint="Go back, reload the page and send the form again.",
        )
    return form


def error_page(request: Request, exc: UserError) -> Response:
    """A UserError on a web page: the sign-in page when signed out, else a page saying why."""
    if isinstance(exc, SignedOut):
        target = request.url.path
        if request.url.query:
            target += "?" + request.url.query
        response = RedirectResponse(f"/sign-in?next={quote(target, safe='')}", status_code=303)
        if request.cookies.get(SESSION_COOKIE):
            response.delete_cookie(SESSION_COOKIE, path="/")
        return response
    title = TITLES.get(exc.status, "Not done")
    return page(request, "message.html", status=exc.status, title=title, error=exc)


# An error page's title says what kind of answer it is (a 404 is "Not found").
TITLES = {
    400: "Not understood",
    401: "Sign in first",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed here",
    409: "Not done",
    422: "Check what you entered",
    500: "Something went wrong",
}


def http_error_page(request: Request, status: int) -> Response:
    """An HTML page for an error no route answered (an unknown address, a wrong method, a
    crash), with a way back; the API and Slack keep their JSON answers."""
    if status == 404:
        error = UserError(
            f"There is no page at {request.url.path}.",
            hint="Check the address, or go back to the referrals.",
        )
    elif status >= 500:
        error = UserError(
            "closeloop could not show this page because of an error on our side.",
            hint="It has been logged. Try again in a moment; if it keeps happening, tell your "
            "network admin the time it happened.",
        )
    else:
        error = UserError("This page cannot answer that request.", hint="Go back and try again.")
    error.status = status
    title = TITLES.get(status, "Not done")
    return page(request, "message.html", status=status, title=title, error=error)


def wants_page(request: Request) -> bool:
    """Web pages answer in HTML; the API, Slack, metrics and health answer as they always did."""
    path = request.url.path
    machine = ("/api/", "/fhir", "/slack/", "/metrics", "/healthz", "/openapi.json", "/static/")
    return not path.startswith(machine)
