"""The referral grid page: the grid's search as a form, sortable columns, a stable next page."""

from __future__ import annotations

from typing import get_args
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from bot.domain.vocab import Channel, ReferralState, match_choice
from bot.errors import InvalidInput
from bot.services import grid
from bot.services.grid import GridQuery, Scope
from handlers.web.deps import CurrentStaff, use_case
from handlers.web.render import page

router = APIRouter()
NAV = ("Referrals", "/referrals")

FILTERS = (
    "scope",
    "number",
    "last_name",
    "first_name",
    "external_id",
    "status",
    "county",
    "need",
    "program",
)
# (heading, sort key or None): the grid's columns, in order.
COLUMNS = (
    ("Number", "number"),
    ("Age", "age"),
    ("Flags", None),
    ("Client", "last_name"),
    ("Where", None),
    ("Needs", None),
    ("Urgency", "urgency"),
    ("Status", "status"),
    ("Program", "program"),
    ("Assigned to", None),
    ("Response", "response"),
)
PAGE_SIZE = 25
# Sort keys whose stored value runs opposite to the number shown (a date shown as an age).
AGE_LIKE = frozenset({"age"})


@router.get("/")
def home() -> Response:
    return RedirectResponse("/referrals", status_code=303)


@router.get("/referrals")
def referrals(request: Request, actor: CurrentStaff) -> Response:
    params = {k: v.strip() for k, v in request.query_params.items() if v.strip()}
    query = _query(params)
    with use_case(request) as session:
        result = grid.search(session, actor=actor, query=query, channel=Channel.WEB)
    kept = {k: params[k] for k in FILTERS if k in params}
    return page(
        request,
        "grid.html",
        title="Referrals",
        page=result,
        filters=kept,
        scopes=get_args(Scope),
        states=[s.value for s in ReferralState if s != ReferralState.DELETED],
        columns=[_column(heading, key, kept, query) for heading, key in COLUMNS],
        next_url=_url(kept, query.sort, query.descending, result.next_cursor)
        if result.next_cursor
        else None,
        first_url=_url(kept, query.sort, query.descending) if query.cursor else None,
    )


def _query(params: dict[str, str]) -> GridQuery:
    scope = params.get("scope", "open")
    if scope not in get_args(Scope):
        raise InvalidInput(
            f'"{scope}" is not a list I know.',
            field="scope",
            hint="Choose one of: " + ", ".join(get_args(Scope)) + ".",
        )
    status = params.get("status")
    return GridQuery(
        scope=scope,  # type: ignore[arg-type]  # checked against Scope just above
        status=match_choice(status, ReferralState, field="status") if status else None,
        number=params.get("number"),
        last_name=params.get("last_name"),
        first_name=params.get("first_name"),
        external_id=params.get("external_id"),
        county=params.get("county"),
        need=params.get("need"),
        program=params.get("program"),
        sort=params.get("sort", "age"),
        descending=params.get("desc") == "1",
        limit=PAGE_SIZE,
        cursor=params.get("cursor"),
    )


def _column(
    heading: str, key: str | None, kept: dict[str, str], query: GridQuery
) -> dict[str, str | None]:
    """A heading; a sortable one links to sorting by it (again: the other way round)."""
    if key is None:
        return {"heading": heading, "url": None, "sort": None}
    current = query.sort == key
    descending = not query.descending if current else False
    sort = "none"
    if current:
        # The arrow says how the column's values run down the page. "age" sorts by first
        # publication, so its oldest-first order (ascending dates) shows ages descending.
        shown_descending = query.descending != (key in AGE_LIKE)
        sort = "descending" if shown_descending else "ascending"
    return {"heading": heading, "url": _url(kept, key, descending), "sort": sort}


def _url(kept: dict[str, str], sort: str, descending: bool, cursor: str | None = None) -> str:
    params = {**kept, "sort": sort}
    if descending:
        params["desc"] = "1"
    if cursor:
        params["cursor"] = cursor
    return "/referrals?" + urlencode(params)
