"""The grid, referral and report pages over HTTP: who sees what, refusals, and the CSV files."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from storage.db import transaction
from storage.models import AuditEvent
from tests.adapter.web.conftest import Browser, csrf_of
from tests.conftest import Clock
from tests.network import COORD, GK_OZARK, LEE, OFFICER
from tests.web_data import report_referrals

pytestmark = pytest.mark.anyio


@pytest.fixture
def numbers(browser: Browser, clock: Clock) -> dict[str, str]:
    return report_referrals(browser.sessions, clock)


def _client_reads(browser: Browser) -> list[tuple[str, str]]:
    with transaction(browser.sessions) as session:
        rows = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "client_data_viewed")
        ).all()
        return [(e.actor.email if e.actor else "", e.channel) for e in rows]


async def test_a_coordinator_sees_the_client_every_program_and_the_audit_trail(
    browser: Browser, numbers: dict[str, str]
) -> None:
    await browser.sign_in(COORD)
    page = await browser.http.get(f"/referrals/{numbers['fresh']}")
    assert page.status_code == 200
    assert "Ada Abara" in page.text and "Called the family, visit on Friday" in page.text
    assert "Dana Ruiz" in page.text and '<table id="audit">' in page.text
    assert _client_reads(browser) == [(COORD, "web")]


async def test_a_provider_without_the_assignment_sees_no_client_and_no_notes(
    browser: Browser, numbers: dict[str, str]
) -> None:
    await browser.sign_in(LEE)
    page = await browser.http.get(f"/referrals/{numbers['fresh']}")
    assert page.status_code == 200
    assert "Abara" not in page.text and "Called the family" not in page.text
    assert "Client details, responses and notes are shown only to people with a role" in page.text
    assert "audit" not in page.text.lower().replace("audit trail", "")
    assert _client_reads(browser) == []


async def test_a_gatekeeper_reads_only_their_own_programs_history(
    browser: Browser, numbers: dict[str, str]
) -> None:
    await browser.sign_in(GK_OZARK)
    page = await browser.http.get(f"/referrals/{numbers['answered']}")
    assert page.status_code == 200 and "Tuan Nguyen" in page.text
    assert "<h2>Ozark Behaviour</h2>" in page.text
    # (Its own respond form lists every decline reason; Heartland's answer is not shown.)
    assert "Heartland Residential" not in page.text and "decline: no vacancy" not in page.text


async def test_other_programs_referrals_are_not_confirmed_to_exist(
    browser: Browser, numbers: dict[str, str]
) -> None:
    await browser.sign_in(GK_OZARK)
    for number in (numbers["fresh"], "R-2026-999999"):
        page = await browser.http.get(f"/referrals/{number}")
        assert page.status_code == 404
        assert f"There is no referral {number}" in page.text


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("status=lost", "&#34;lost&#34; is not a status I know."),
        ("sort=colour", "Cannot sort by &#34;colour&#34;."),
        ("scope=everything", "&#34;everything&#34; is not a list I know."),
        ("cursor=nonsense", "That page cursor is not one I gave out."),
    ],
)
async def test_the_grid_explains_bad_search_input(
    browser: Browser, numbers: dict[str, str], query: str, message: str
) -> None:
    await browser.sign_in(COORD)
    page = await browser.http.get(f"/referrals?{query}")
    assert page.status_code == 422
    assert message in page.text


async def test_the_grid_pages_with_a_stable_cursor(
    browser: Browser, numbers: dict[str, str]
) -> None:
    await browser.sign_in(COORD)
    first = await browser.http.get("/referrals?sort=number")
    assert first.status_code == 200
    assert 'rel="next"' not in first.text  # five rows fit on one page of 25
    for number in numbers.values():
        assert f'href="/referrals/{number}"' in first.text


async def test_the_outcomes_csv_counts_each_response_by_program_and_reason(
    browser: Browser, numbers: dict[str, str]
) -> None:
    await browser.sign_in(COORD)
    csv = await browser.http.get("/reports/outcomes.csv?from=2026-03-01&to=2026-03-09")
    assert csv.status_code == 200
    assert csv.headers["content-type"] == "text/csv; charset=utf-8"
    assert csv.headers["content-disposition"] == (
        'attachment; filename="closeloop-outcomes-2026-03-01-2026-03-09.csv"'
    )
    assert csv.text == (
        "program,response,reason,count\r\n"
        "Heartland Residential,declined,no vacancy,1\r\n"
        "Ozark Behaviour,accepted,,1\r\n"
        "River Housing,tentatively accepted,pending funding approval,1\r\n"
    )
    page = await browser.http.get("/reports/outcomes?from=2026-03-01&to=2026-03-09")
    assert page.text.count("<svg") == 2


async def test_the_agency_report_counts_referrals_to_and_from_it(
    browser: Browser, numbers: dict[str, str]
) -> None:
    await browser.sign_in(COORD)
    query = "agency=heartland&from=2026-01-01&to=2026-03-09"
    csv = await browser.http.get(f"/reports/agency.csv?{query}")
    assert csv.text == (
        "direction,program or agency,referrals,accepted,tentatively accepted,declined,"
        "no response\r\n"
        "to,Heartland Residential,3,0,0,1,2\r\n"
    )
    page = await browser.http.get(f"/reports/agency?{query}")
    assert page.status_code == 200 and page.text.count("<svg") == 1


async def test_a_gatekeeper_counts_only_their_programs(
    browser: Browser, numbers: dict[str, str]
) -> None:
    await browser.sign_in(GK_OZARK)
    csv = await browser.http.get("/reports/delays.csv")
    assert csv.text.splitlines()[1:] == [
        "unassigned,0,0,0,0,0",
        '"assigned, no response",0,0,0,0,0',
        "tentatively accepted,0,0,0,0,0",
        "accepted,0,0,0,1,1",
        "declined,0,0,0,0,0",
    ]


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/reports/outcomes?from=2026-13-01", 422, "&#34;2026-13-01&#34; is not a date."),
        (
            "/reports/outcomes?from=2026-03-09&to=2026-03-01",
            422,
            "The period starts (2026-03-09) after it ends (2026-03-01).",
        ),
        ("/reports/agency?agency=nowhere", 422, "&#34;nowhere&#34; is not an agency"),
        ("/reports/agency.csv", 422, "Choose an agency."),
    ],
)
async def test_reports_explain_bad_input(
    browser: Browser, numbers: dict[str, str], path: str, status: int, message: str
) -> None:
    await browser.sign_in(COORD)
    page = await browser.http.get(path)
    assert page.status_code == status
    assert message in page.text


async def test_reports_need_a_role_at_a_program_or_in_the_network(browser: Browser) -> None:
    await browser.sign_in(OFFICER)
    page = await browser.http.get("/reports/delays")
    assert page.status_code == 403
    assert "Reports count the referrals of programs" in page.text


async def test_a_refused_form_names_the_field_and_changes_nothing(
    browser: Browser, numbers: dict[str, str]
) -> None:
    await browser.sign_in(GK_OZARK)
    number = numbers["answered"]
    page = await browser.http.get(f"/referrals/{number}")
    assert f'action="/referrals/{number}/respond"' in page.text
    before = _events(browser)
    form = {"response": "decline", "reason_decline": "", "csrf_token": csrf_of(page.text)}
    refused = await browser.http.post(f"/referrals/{number}/respond", data=form)
    assert refused.status_code == 422
    assert "A decline needs a reason." in refused.text
    # Without the page's CSRF token nothing is read at all.
    forged = await browser.http.post(f"/referrals/{number}/notes", data={"text": "hello"})
    assert forged.status_code == 403
    assert _events(browser) == before


async def test_a_provider_without_the_assignment_is_offered_no_forms(
    browser: Browser, numbers: dict[str, str]
) -> None:
    await browser.sign_in(LEE)
    page = await browser.http.get(f"/referrals/{numbers['fresh']}")
    assert page.status_code == 200
    assert f"/referrals/{numbers['fresh']}/" not in page.text


def _events(browser: Browser) -> int:
    with transaction(browser.sessions) as session:
        return len(session.scalars(select(AuditEvent)).all())


async def test_the_primary_coordinator_is_linked_to_edit_and_preview(
    browser: Browser, numbers: dict[str, str]
) -> None:
    number = numbers["fresh"]
    await browser.sign_in(COORD)
    page = await browser.http.get(f"/referrals/{number}")
    assert f'href="/referrals/{number}/edit"' in page.text
    assert f'href="/referrals/{number}/preview"' in page.text
    for link in ("edit", "preview"):
        assert (await browser.http.get(f"/referrals/{number}/{link}")).status_code == 200
