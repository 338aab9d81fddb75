"""The reports pages: delays, outcomes, to and from an agency; each a chart and a CSV download."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from bot.domain.vocab import RESPONSE_WORDS
from bot.errors import InvalidInput
from bot.services import reports
from bot.services.reports import AgencyFlowReport, FlowRow
from handlers.web.charts import stacked_bars
from handlers.web.deps import CurrentStaff, use_case
from handlers.web.render import page

router = APIRouter()
NAV = ("Reports", "/reports")

RESPONSES = list(RESPONSE_WORDS.values())
FLOW_SERIES = [*RESPONSES, "no response"]
FLOW_HEADER = ["direction", "program or agency", "referrals", *FLOW_SERIES]


@router.get("/reports")
def index(request: Request, actor: CurrentStaff) -> Response:
    return page(request, "reports.html", title="Reports")


@router.get("/reports/delays")
def delays(request: Request, actor: CurrentStaff) -> Response:
    with use_case(request) as session:
        report = reports.delays(session, actor=actor)
    rows = [(stage, counts) for stage, counts in report.counts.items()]
    chart = stacked_bars("Open referrals by stage and age", list(report.buckets), rows)
    return page(request, "report_delays.html", title="Delays", report=report, charts=[chart])


@router.get("/reports/delays.csv")
def delays_csv(request: Request, actor: CurrentStaff) -> Response:
    with use_case(request) as session:
        report = reports.delays(session, actor=actor)
    lines = [[stage, *counts, sum(counts)] for stage, counts in report.counts.items()]
    return _csv("closeloop-delays.csv", ["stage", *report.buckets, "total"], lines)


@router.get("/reports/outcomes")
def outcomes(request: Request, actor: CurrentStaff) -> Response:
    start, end = _dates(request)
    with use_case(request) as session:
        report = reports.outcomes(session, actor=actor, start=start, end=end)
    by_reason = stacked_bars(
        "Responses by reason", ["responses"], [(k, [v]) for k, v in report.by_reason().items()]
    )
    by_program = stacked_bars(
        "Responses by program",
        RESPONSES,
        [(program, list(counts.values())) for program, counts in report.by_program().items()],
    )
    return page(
        request,
        "report_outcomes.html",
        title="Outcomes",
        report=report,
        charts=[by_reason, by_program],
        query=_period_query(report.start, report.end),
    )


@router.get("/reports/outcomes.csv")
def outcomes_csv(request: Request, actor: CurrentStaff) -> Response:
    start, end = _dates(request)
    with use_case(request) as session:
        report = reports.outcomes(session, actor=actor, start=start, end=end)
    lines = [[r.program, r.response, r.reason or "", r.count] for r in report.rows]
    return _csv(
        f"closeloop-outcomes-{report.start}-{report.end}.csv",
        ["program", "response", "reason", "count"],
        lines,
    )


@router.get("/reports/agency")
def agency(request: Request, actor: CurrentStaff) -> Response:
    start, end = _dates(request)
    wanted = request.query_params.get("agency", "").strip()
    with use_case(request) as session:
        choices = reports.agencies(session)
        report = (
            reports.agency_flow(session, actor=actor, agency=wanted, start=start, end=end)
            if wanted
            else None
        )
    charts = []
    if report is not None:
        for direction, title in (
            ("to", f"Referrals to {report.agency}, by its program"),
            ("from", f"Referrals from {report.agency}, by receiving agency"),
        ):
            rows = [(r.counterpart, _flow_values(r)) for r in report.direction(direction)]
            charts.append(stacked_bars(title, FLOW_SERIES, rows))
    return page(
        request,
        "report_agency.html",
        title="To and from an agency",
        report=report,
        charts=charts,
        choices=choices,
        wanted=wanted,
        start=start,
        end=end,
        query=_period_query(report.start, report.end, agency=wanted) if report else "",
    )


@router.get("/reports/agency.csv")
def agency_csv(request: Request, actor: CurrentStaff) -> Response:
    start, end = _dates(request)
    wanted = request.query_params.get("agency", "")
    with use_case(request) as session:
        report = reports.agency_flow(session, actor=actor, agency=wanted, start=start, end=end)
    return _csv(
        f"closeloop-agency-{report.start}-{report.end}.csv", FLOW_HEADER, _flow_lines(report)
    )


def _flow_values(row: FlowRow) -> list[int]:
    return [row.accepted, row.tentative, row.declined, row.no_response]


def _flow_lines(report: AgencyFlowReport) -> list[list[Any]]:
    return [[r.direction, r.counterpart, r.referrals, *_flow_values(r)] for r in report.rows]


def _dates(request: Request) -> tuple[date | None, date | None]:
    return _date(request, "from"), _date(request, "to")


def _date(request: Request, name: str) -> date | None:
    text = request.query_params.get(name, "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            f'"{text}" is not a date.', field=name, hint="Write dates as YYYY-MM-DD."
        ) from None


def _period_query(start: date, end: date, **more: str) -> str:
    return urlencode({**more, "from": start.isoformat(), "to": end.isoformat()})


def _csv(filename: str, header: Sequence[str], lines: Iterable[Sequence[Any]]) -> Response:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(lines)
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
