"""Scheduled notifications in Slack: reminders, escalations and expiry notices as DMs, and the
regions' daily digests in their channels."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.delivery import Notification
from bot.jobs import jobs
from bot.services import digests, escalations, expiries, reminders
from handlers.slack.render import SlackRenderer
from storage.db import transaction
from storage.models import OutboxMessage
from tests.adapter.slack.conftest import SlackWorld
from tests.conftest import Clock
from tests.network import COORD, GK_HOME, GK_OZARK, GK_RIVER
from tests.service.helpers import published


def run(world: SlackWorld, job: Callable[[Session], int]) -> int:
    with transaction(world.sessions) as session:
        return job(session)


def slack_rows(world: SlackWorld, kind: str) -> list[tuple[str, str, int | None]]:
    """(address, status, the payload's count) of the kind's Slack rows, in order."""
    with transaction(world.sessions) as session:
        return [
            (row.address, row.status, row.payload.get("count"))
            for row in session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.kind == kind, OutboxMessage.channel == "slack")
                .order_by(OutboxMessage.id)
            )
        ]


def texts(world: SlackWorld, user: str) -> list[str]:
    """The texts of the messages in the bot's DM with a user; each is one section block that
    says the same with mrkdwn, and has no buttons (these notices name no single referral)
    except a reminder's Set capacity."""
    messages = world.dm(user)
    for message in messages:
        [block] = [b for b in message["blocks"] if b.get("block_id") != "capacity_actions"]
        assert block["type"] == "section"
        assert block["text"]["text"].replace("*", "") == message["text"]
    return [message["text"] for message in messages]


def test_escalations_then_a_reminder_reach_slack_users_as_one_dm_each(
    world: SlackWorld, clock: Clock
) -> None:
    start = clock.now  # Monday 2 March 2026, 09:00 in Missouri
    a = published(world.sessions, needs=["RES"])  # Heartland Residential: Grace
    b = published(world.sessions, needs=["DAY"], urgency="urgent")  # Heartland Day: Grace
    world.drain()
    world.fake.clear()

    clock.now = start + timedelta(days=14)
    assert run(world, escalations.overdue_escalations) == 2
    assert world.drain() == 2

    assert slack_rows(world, "overdue_gatekeeper") == [(GK_HOME, "sent", 2)]
    assert slack_rows(world, "overdue_coordinator") == [(COORD, "sent", 2)]
    assert texts(world, "U0GRACE") == [
        "2 referrals have waited five business days with nobody assigned and no answer from "
        "your program. Please assign each to a provider or answer it:\n"
        f"• {a} · Boone County · RES · routine · 14 days\n"
        "   Heartland Residential: not assigned; no answer yet\n"
        f"• {b} · Boone County · DAY · urgent · 14 days\n"
        "   Heartland Day: not assigned; no answer yet\n"
        "\n"
        "Type `/referral help` to see how to assign or answer from Slack."
    ]
    assert texts(world, "U0CASEY") == [
        "2 program answers are overdue on your referrals: nobody was assigned and no answer "
        "came in five business days. You may want to consider other programs:\n"
        f"• {a} · Boone County · RES: Heartland Residential has not answered\n"
        "   No other program has accepted it or is still considering it.\n"
        f"• {b} · Boone County · DAY: Heartland Day has not answered\n"
        "   No other program has accepted it or is still considering it."
    ]

    world.fake.clear()
    clock.now = start + timedelta(days=30, hours=-3)  # 06:00 local on day 30: 29 days on
    assert run(world, reminders.thirty_day_reminders) == 1
    assert world.drain() == 1

    assert slack_rows(world, "thirty_day_reminder") == [(GK_HOME, "sent", 2)]
    assert texts(world, "U0GRACE") == [
        "2 open referrals are still waiting on you. Please assign, answer or update each one:\n"
        f"• {a} · Boone County · RES · routine · 29 days\n"
        "   Heartland Residential: not assigned; no answer yet\n"
        f"• {b} · Boone County · DAY · urgent · 29 days\n"
        "   Heartland Day: not assigned; no answer yet\n"
        "\n"
        "Type `/referral help` to see how to assign or answer from Slack."
    ]
    assert texts(world, "U0CASEY") == []


def test_an_agency_mou_about_to_expire_reaches_its_gatekeepers_in_slack(
    world: SlackWorld, clock: Clock
) -> None:
    clock.now = datetime(2026, 12, 10, 15, tzinfo=UTC)  # every agency's MOU ends 2027-01-04

    assert run(world, expiries.agency_mous) == 3
    assert world.drain() == 3

    assert slack_rows(world, "mou_expiring") == [
        (GK_HOME, "sent", None),
        (GK_OZARK, "sent", None),
        (GK_RIVER, "sent", None),
    ]
    assert texts(world, "U0GRACE") == [
        "The network agreement (MOU) of Heartland Community Living expires on 2027-01-04. "
        "Once it lapses, its programs (Heartland Day, Heartland Residential) receive no new "
        "referrals until it is renewed."
    ]
    assert texts(world, "U0RITA") == [
        "The network agreement (MOU) of River Housing Partners expires on 2027-01-04. "
        "Once it lapses, its programs (River Housing) receive no new referrals until it is "
        "renewed."
    ]


def test_a_reminder_over_a_long_backlog_lists_ten_and_says_how_many_more(
    world: SlackWorld, network: sessionmaker[Session], clock: Clock
) -> None:
    start = clock.now
    # Published where Slack is not configured (the `network` sessions), so that the 150
    # announcements go to the console instead of making this test slow.
    numbers = [published(network, needs=["RES"]) for _ in range(150)]
    world.drain()
    assert world.fake.calls("chat.postMessage") == []

    clock.now = start + timedelta(days=30, hours=-3)
    assert run(world, reminders.thirty_day_reminders) == 1
    assert world.drain() == 1

    assert slack_rows(world, "thirty_day_reminder") == [(GK_HOME, "sent", 150)]
    [said] = texts(world, "U0GRACE")  # one section block that says it all, nothing cut off
    [message] = world.dm("U0GRACE")
    assert len(message["blocks"][0]["text"]["text"]) <= 3000
    listed = [line.split(" · ")[0] for line in said.splitlines() if line.startswith("• ")]
    assert listed == [f"• {number}" for number in numbers[:10]]
    assert said.endswith(
        "…and 140 more: `/referral list open` shows them all.\n"
        "\n"
        "Type `/referral help` to see how to assign or answer from Slack."
    )


def test_a_region_gets_its_daily_digest_in_its_slack_channel(
    world: SlackWorld, clock: Clock
) -> None:
    number = published(world.sessions, needs=["RES"], counties=["Cole County"])
    world.drain()
    world.fake.clear()

    clock.now = datetime(2026, 3, 3, 14, tzinfo=UTC)  # 08:00 local, after the 07:30 digest
    assert run(world, digests.daily_digests) == 1
    assert world.drain() == 1

    assert slack_rows(world, "coordinator_digest") == [("C0CENTRAL", "sent", None)]
    [digest] = world.fake.conversation("C0CENTRAL")
    assert digest["text"] == (
        "closeloop digest: Central region, 2026-03-02 08:00 CST to 2026-03-03 08:00 CST\n"
        "Outstanding incoming referrals (routed, not yet accepted or declined): 1 "
        "(Heartland Residential 1). Answered in the period: 0.\n"
        "\n"
        "New referrals (1)\n"
        f"• {number} · Cole County · RES (Residential support) · routine · sent to 1 program\n"
        "\n"
        "Responses (0): none\n"
        "Service status changes (0): none\n"
        "Pending placement (0): none\n"
        "No assignment or response after 5 business days (0): none\n"
        "Older than 60 days (0): none\n"
        "\n"
        "Type `/referral digest` for your own counties' digest in full, "
        "`/referral list overdue` for every overdue referral."
    )


# What each scheduled job writes, as the job writes it (payload), and what Slack must then say.
ITEM = {
    "number": "R-2026-000042",
    "where": "Boone County",
    "needs": "RES, DAY",
    "urgency": "urgent",
    "age_days": 31,
    "program": "Heartland Residential",
    "assignee": "Dana Ruiz",
    "response": "tentative",
    "reason": "pending funding approval",
}
CONSIDER = [{"program": "Ozark Behaviour", "response": "accept"}]
DIGEST = {
    "title": "Central region",
    "recipient_name": "Central",
    "since": "2026-03-01T13:30:00+00:00",
    "until": "2026-03-02T13:30:00+00:00",
    "outstanding": [{"program": "Heartland Residential", "count": 2}],
    "outstanding_total": 2,
    "answered_count": 1,
    "new": [
        {
            "number": "R-2026-000043",
            "where": "Cole County",
            "needs": "RES (Residential support)",
            "urgency": "routine",
            "programs": 1,
        }
    ],
    "new_count": 1,
    "responses": [
        {
            "number": "R-2026-000042",
            "program": "Ozark Behaviour",
            "response": "accept",
            "reason": None,
            "edited": False,
        }
    ],
    "responses_count": 1,
    "status_changes": [],
    "status_changes_count": 0,
    "pending": ["R-2026-000040"],
    "pending_count": 1,
    "overdue": [
        {"number": "R-2026-000042", "program": "Heartland Residential", "since": "2026-02-20"}
    ],
    "overdue_count": 1,
    "aging": [{"number": "R-2025-000900", "age_days": 75}],
    "aging_count": 1,
}
MOU = {
    "agency": "Heartland Community Living",
    "expires_on": "2027-01-04",
    "programs": ["Heartland Day", "Heartland Residential"],
}
SCHEDULED: dict[str, tuple[dict[str, Any], str]] = {
    "thirty_day_reminder": (
        {"items": [ITEM], "count": 1, "date": "2026-04-01"},
        "1 open referral is still waiting on you. Please assign, answer or update each one:\n"
        "• R-2026-000042 · Boone County · RES, DAY · urgent · 31 days\n"
        "   Heartland Residential: assigned to Dana Ruiz; tentatively accepted (pending funding approval)\n",
    ),
    "overdue_gatekeeper": (
        {"items": [ITEM | {"assignee": None, "response": None, "reason": None}], "count": 1},
        "1 referral has waited five business days with nobody assigned and no answer from your program.",
    ),
    "overdue_coordinator": (
        {"items": [ITEM | {"consider": CONSIDER}], "count": 1},
        "• R-2026-000042 · Boone County · RES, DAY: Heartland Residential has not answered\n"
        "   Other programs: Ozark Behaviour (accepted).",
    ),
    "coordinator_digest": (
        DIGEST,
        "Pending placement (1): R-2026-000040\n",
    ),
    "mou_expiring": (
        MOU,
        "expires on 2027-01-04. Once it lapses, its programs (Heartland Day, Heartland Residential) receive no new referrals",
    ),
    "mou_expired": (
        MOU,
        "expired on 2027-01-04: its programs (Heartland Day, Heartland Residential) no longer receive new referrals.",
    ),
    "user_mou_due": (
        {"lapses_on": "2027-01-05"},
        "Your yearly closeloop user agreement (user MOU) lapses on 2027-01-05.",
    ),
    "consent_expiring": (
        {"expires_on": "2026-04-01", "numbers": ["R-2026-000042", "R-2026-000043"]},
        "behind referrals R-2026-000042, R-2026-000043 expires on 2026-04-01.",
    ),
    "consent_withdrawn": (
        {"referral": "R-2026-000042", "programs": ["Heartland Day"], "why": "expired"},
        "The client's consent behind R-2026-000042 expired: Heartland Day no longer sees the client or the referral.",
    ),
    "mou_withdrawn": (
        {"referral": "R-2026-000042", "programs": ["Heartland Residential"]},
        "Their agency's MOU lapsed, so Heartland Residential no longer sees R-2026-000042 or its client.",
    ),
    "access_idle_warning": (
        {"days": 90, "removal_on": "2026-07-14", "public_url": "https://closeloop.example.org"},
        "You have not used closeloop for a long time: your access will be removed on 2026-07-14 unless you use it before then",
    ),
    "access_idle_held": (
        {
            "held": ["a@x.org", "b@x.org"],
            "held_count": 2,
            "removed_count": 4,
            "bound": 4,
            "days": 90,
        },
        "6 people were due to lose access after 90 idle days today, more than the idle rule's bound of 4 a run: 4 lost access, and 2 keep it for now",
    ),
    "access_removed_idle": (
        {"person": "Lee Park", "email": "lee@heartland.example.org", "days": 90},
        "Lee Park (lee@heartland.example.org) has not used closeloop for 90 days, so their access was removed.",
    ),
}


def kinds_the_scheduled_jobs_write() -> set[str]:
    """Every kind the modules of the scheduled jobs name (each is a `kind="..."` literal), so
    that a job's new kind fails the test below until it has a Slack text tested here."""
    modules = {inspect.getmodule(job.run) for job in jobs("07:30")}
    return {
        kind
        for module in modules
        for kind in re.findall(r'\bkind="(\w+)"', inspect.getsource(module))
    }


def test_every_kind_the_scheduled_jobs_write_is_tested_for_slack() -> None:
    assert kinds_the_scheduled_jobs_write() == set(SCHEDULED)


def slack_message(
    sessions: sessionmaker[Session], kind: str, payload: dict[str, Any]
) -> tuple[str, list[dict[str, Any]]]:
    note = Notification(
        id=1,
        key=f"{kind}:s1:slack",
        channel="slack",
        kind=kind,
        address="U0GRACE",
        staff_id=1,
        referral_id=None,
        payload=payload | {"recipient_name": "Grace"},
    )
    message = SlackRenderer(sessions)(note)
    assert message.blocks is not None
    # A reminder also carries the Set capacity button (tests/adapter/slack/test_referring.py).
    return message.text, [b for b in message.blocks if b.get("block_id") != "capacity_actions"]


@pytest.mark.parametrize("kind", sorted(SCHEDULED))
def test_every_scheduled_kind_renders_for_slack(network: sessionmaker[Session], kind: str) -> None:
    payload, says = SCHEDULED[kind]

    text, blocks = slack_message(network, kind, payload)

    assert says in text
    [block] = blocks  # one section: no referral's brief, no buttons
    assert block["type"] == "section"
    assert block["text"]["text"].replace("*", "") == text


def long(value: Any) -> Any:
    """The value with every text in it made 1,000 characters long."""
    if isinstance(value, str):
        return (value + " ") * (1000 // (len(value) + 1)) + "x" * (1000 % (len(value) + 1))
    if isinstance(value, list):
        return [long(v) for v in value]
    if isinstance(value, dict):
        return {k: long(v) for k, v in value.items()}
    return value


LONG_LISTS: dict[str, dict[str, Any]] = {
    "thirty_day_reminder": {"items": [long(ITEM)] * 3000, "count": 3000},
    "overdue_gatekeeper": {"items": [long(ITEM)] * 3000, "count": 3000},
    "overdue_coordinator": {
        "items": [long(ITEM | {"consider": CONSIDER * 200})] * 3000,
        "count": 3000,
    },
    "coordinator_digest": long(DIGEST)
    | {
        "outstanding": long(DIGEST["outstanding"]) * 500,
        **{
            section: long(DIGEST[section] or [{"number": "R", "program": "P", "status": "S"}]) * 50
            for section in ("new", "responses", "status_changes", "pending", "overdue", "aging")
        },
        **{
            f"{section}_count": 3000
            for section in ("new", "responses", "status_changes", "overdue")
        },
        "pending_count": 3000,
        "aging_count": 3000,
    },
}


@pytest.mark.parametrize("kind", sorted(LONG_LISTS))
def test_long_lists_and_long_names_stay_within_one_section_block(
    network: sessionmaker[Session], kind: str
) -> None:
    text, [block] = slack_message(network, kind, LONG_LISTS[kind])

    assert len(block["text"]["text"]) <= 3000
    assert block["text"]["text"].replace("*", "") == text  # nothing was cut off at the limit
    assert len(text) <= 3000
    listed = sum(1 for line in text.splitlines() if line.startswith("• "))
    more = [int(n) for n in re.findall(r"^…and (\d+) more", text, re.MULTILINE)]
    if kind == "coordinator_digest":
        assert len(more) == 4 and all(n >= 2995 for n in more)
        assert re.search(
            r"^Pending placement \(3000\): (R-[^,]*, ){4}R-[^,]* and 2995 more \(the web grid's Status: pending placement shows them all\)$",
            text,
            re.MULTILINE,
        )
        assert re.search(
            r"^Older than 60 days \(3000\): (R-[^,]*, ){4}R-[^,]* and 2995 more \(`/referral list open` lists them oldest first\)$",
            text,
            re.MULTILINE,
        )
        assert text.endswith("`/referral list overdue` for every overdue referral.")
    else:
        assert 0 < listed <= 10 and more == [3000 - listed]
