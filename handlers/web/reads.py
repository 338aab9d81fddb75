"""Who read a client's details: a security officer's (or an admin's) page and CSV."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from bot.services.read_audit import PAGE_ROWS, ClientReads, reads_csv, reads_of_client
from handlers.web.deps import CurrentStaff, use_case
from handlers.web.render import page

router = APIRouter()


def _find(request: Request, actor: CurrentStaff) -> ClientReads | None:
    client = request.query_params.get("client", "").strip()
    number = request.query_params.get("referral", "").strip()
    if not client and not number:
        return None
    with use_case(request) as session:
        return reads_of_client(
            session,
            actor=actor,
            client_id=int(client) if client.isdigit() else None,
            number=number or None,
        )


@router.get("/audit/reads")
def reads_page(request: Request, actor: CurrentStaff) -> Response:
    found = _find(request, actor)
    if found is None:
        # Asking for nothing yet is allowed to officers and admins only, like the answer.
        with use_case(request) as session:
            reads_of_client(session, actor=actor, client_id=0)
    return page(
        request,
        "reads.html",
        title="Reads of a client's details",
        found=found,
        rows=found.reads[:PAGE_ROWS] if found else [],
        query=request.url.query,
    )


@router.get("/audit/reads.csv")
def reads_download(request: Request, actor: CurrentStaff) -> Response:
    found = _find(request, actor)
    if found is None:
        with use_case(request) as session:
            found = reads_of_client(session, actor=actor, client_id=None)
    return Response(
        reads_csv(found),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="client-{found.client_id}-reads.csv"'
        },
    )
