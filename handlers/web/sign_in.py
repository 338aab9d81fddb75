"""Sign in by emailed link, and sign out: the only pages open without a session."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from bot.errors import InvalidInput
from bot.services.sign_in import (
    check_sign_in_link,
    complete_sign_in,
    end_session,
    request_sign_in,
)
from handlers.web.deps import use_case
from handlers.web.render import SESSION_COOKIE, checked_form, page, settings_of_request

router = APIRouter()
HOME = "/referrals"


def safe_next(target: str | None) -> str:
    """Only a path on this site: an open redirect would make our links a phishing tool."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return HOME


@router.get("/sign-in")
def sign_in_form(request: Request, next: str | None = None) -> Response:
    return page(request, "sign_in.html", title="Sign in", next=safe_next(next), email="")


@router.post("/sign-in")
async def sign_in_send(request: Request) -> Response:
    form = await checked_form(request)
    email = form.get("email", "")
    target = safe_next(form.get("next"))
    try:
        with use_case(request) as session:
            request_sign_in(session, email=email)
    except InvalidInput as exc:
        return page(
            request,
            "sign_in.html",
            status=exc.status,
            title="Sign in",
            next=target,
            email=email,
            error=exc,
        )
    minutes = settings_of_request(request).sign_in_link_minutes
    # The same answer whether or not the address has an account.
    return page(
        request, "sign_in_sent.html", title="Check your email", email=email, minutes=minutes
    )


@router.get("/sign-in/{token}")
def sign_in_confirm(request: Request, token: str, next: str | None = None) -> Response:
    # Only a button press uses the link: mail scanners that open links must not spend it.
    with use_case(request) as session:
        holder = check_sign_in_link(session, token=token)
    return page(
        request, "sign_in_confirm.html", title="Sign in", holder=holder, next=safe_next(next)
    )


@router.post("/sign-in/{token}")
async def sign_in_complete(request: Request, token: str) -> Response:
    form = await checked_form(request)
    with use_case(request) as session:
        started = complete_sign_in(session, token=token)
    settings = settings_of_request(request)
    target = "/agreement" if started.needs_agreement else safe_next(form.get("next"))
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        started.cookie,
        max_age=settings.web_session_hours * 3600,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        path="/",
    )
    return response


@router.post("/sign-out")
async def sign_out(request: Request) -> Response:
    await checked_form(request)
    with use_case(request) as session:
        end_session(session, cookie=request.cookies.get(SESSION_COOKIE))
    response = page(request, "signed_out.html", title="Signed out")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
