"""The web pages: server-rendered HTML (templates/web/), signed in by an emailed link.

Pages register here: a module with a `router` (and a `NAV` entry to appear in the layout's
nav) added to PAGES is mounted by `mount_web`, behind the same sign-in and error pages.
"""

from __future__ import annotations

from types import ModuleType

from fastapi import APIRouter, Depends, FastAPI

from handlers.web import (
    access,
    agreements,
    grid,
    intake,
    programs,
    reads,
    referral,
    referring,
    reports,
    sign_in,
    work,
)
from handlers.web.deps import mark_web

PAGES: tuple[ModuleType, ...] = (
    sign_in,
    grid,
    referral,
    work,
    intake,
    referring,
    programs,
    reports,
    access,
    agreements,
    reads,
)


def web_router(pages: tuple[ModuleType, ...] = PAGES) -> APIRouter:
    router = APIRouter(dependencies=[Depends(mark_web)], include_in_schema=False)
    for module in pages:
        router.include_router(module.router)
    return router


def mount_web(app: FastAPI, pages: tuple[ModuleType, ...] = PAGES) -> None:
    app.state.web_nav = [module.NAV for module in pages if hasattr(module, "NAV")]
    app.include_router(web_router(pages))
