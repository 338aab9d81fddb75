"""Every read of client details is audited whatever the channel, and a security officer lists
the reads of one client (their agency's staff), an admin every read, on a page and as CSV."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from bot.actors import actor_by_email
from bot.domain.vocab import Channel
from bot.services import referrals
from handlers.api.tokens import issue_token
from storage.db import transaction
from storage.models import AuditEvent, Referral, Staff
from tests.adapter.web.conftest import Browser
from tests.network import ADMIN, COORD, GK_HOME, OFFICER
from tests.service.helpers import published

pytestmark = pytest.mark.anyio


def _reads(browser: Browser, client_id: int) -> list[tuple[str, str, str]]:
    with transaction(browser.sessions) as session:
        rows = session.execute(
            select(AuditEvent.action, AuditEvent.channel, AuditEvent.actor_id)
            .where(AuditEvent.client_id == client_id, AuditEvent.action.like("client_data_%"))
            .order_by(AuditEvent.id)
        ).all()
        emails = dict(session.execute(select(Staff.id, Staff.email)).all())
        return [(a, c, emails[s]) for a, c, s in rows]


async def test_each_channel_records_its_reads_and_an_officer_lists_them(
    browser: Browser,
) -> None:
    number = published(browser.sessions, needs=["RES"])
    other = published(browser.sessions, needs=["RES"])
    with transaction(browser.sessions) as session:
        client_id = session.scalar(select(Referral.client_id).where(Referral.number == number))
        assert client_id is not None
        token = issue_token(session, email=COORD)
        # Slack's `show` (and its button) call this use case with the Slack channel.
        referrals.view_referral(
            session,
            actor=actor_by_email(session, GK_HOME),
            number=number,
            channel=Channel.SLACK,
        )

    # The web: the grid lists the client's name, the referral page shows the details.
    await browser.sign_in(COORD)
    assert (await browser.http.get("/referrals")).status_code == 200
    assert (await browser.http.get(f"/referrals/{number}")).status_code == 200
    # The API: the list (client names) and the item.
    auth = {"Authorization": f"Bearer {token}"}
    assert (await browser.http.get("/api/v1/referrals", headers=auth)).status_code == 200
    assert (await browser.http.get(f"/api/v1/referrals/{number}", headers=auth)).status_code == 200

    assert _reads(browser, client_id) == [
        ("client_data_viewed", "slack", GK_HOME),
        ("client_data_listed", "web", COORD),
        ("client_data_viewed", "web", COORD),
        ("client_data_listed", "api", COORD),
        ("client_data_viewed", "api", COORD),
    ]

    # Heartland's officer sees the reads by Heartland's staff; the admin sees every read.
    await browser.sign_out()
    await browser.sign_in(OFFICER)
    shown = await browser.http.get("/audit/reads", params={"referral": number})
    assert shown.status_code == 200
    assert "Grace Holt" in shown.text and "Casey Morgan" not in shown.text
    assert other not in shown.text
    await browser.sign_out()
    await browser.sign_in(ADMIN)
    download = await browser.http.get("/audit/reads.csv", params={"client": str(client_id)})
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(download.text)))
    assert table[0] == ["at", "who", "email", "agency", "channel", "action", "referral"]
    assert [(r[2], r[4], r[5], r[6]) for r in table[1:]] == [
        (COORD, "web", "client_data_listed", number),  # signing out shows the grid first
        (COORD, "api", "client_data_viewed", number),
        (COORD, "api", "client_data_listed", number),
        (COORD, "web", "client_data_viewed", number),
        (COORD, "web", "client_data_listed", number),
        (GK_HOME, "slack", "client_data_viewed", number),
    ]


async def test_only_officers_and_admins_see_who_read(browser: Browser) -> None:
    number = published(browser.sessions, needs=["RES"])
    await browser.sign_in(GK_HOME)
    for path in ("/audit/reads", "/audit/reads.csv"):
        answer = await browser.http.get(path, params={"referral": number})
        assert answer.status_code == 403
        assert "Only security officers and network admins" in answer.text
