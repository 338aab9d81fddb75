"""`/referral` text read into typed commands (pure: no Slack, no database)."""

from __future__ import annotations

import pytest

from bot.commands import AddNote, Assign, Close, Respond, SetStatus
from bot.domain.vocab import NeedOutcome, ResponseKind, ServiceStatus
from bot.errors import InvalidInput
from handlers.slack.commands import (
    AccessQueue,
    AskAccess,
    DecideAccess,
    Help,
    ListReferrals,
    RevokeAccess,
    Show,
    Suspension,
    parse_command,
)

N = "R-2026-000042"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", Help()),
        ("help", Help()),
        ("list", ListReferrals()),
        (
            "list mine county St. Louis City need res page 3",
            ListReferrals("mine", "St. Louis City", "RES", 3),
        ),
        ("show 2026-000042", Show(N)),
        ("show r-2026-42", Show(N)),
        ("assign R-2026-000042 <@U0LEE|lee>", Assign(number=N, provider="<@U0LEE|lee>")),
        (
            "reassign R-2026-000042 lee@heartland.example.org",
            Assign(number=N, provider="lee@heartland.example.org", reassign=True),
        ),
        (
            "accept R-2026-000042 we can start Monday",
            Respond(number=N, kind=ResponseKind.ACCEPT, comment="we can start Monday"),
        ),
        (
            "decline R-2026-000042 no vac beds full",
            Respond(number=N, kind=ResponseKind.DECLINE, reason="no vacancy", comment="beds full"),
        ),
        (
            "decline R-2026-000042 program=heartland-res MEDICAL",
            Respond(
                number=N,
                kind=ResponseKind.DECLINE,
                reason="cannot meet medical needs",
                program="heartland-res",
            ),
        ),
        (
            "provision R-2026-000042 pending fund county decides",
            Respond(
                number=N,
                kind=ResponseKind.TENTATIVE,
                reason="pending funding approval",
                comment="county decides",
            ),
        ),
        (
            "status R-2026-000042 not started unable",
            SetStatus(number=N, status=ServiceStatus.NOT_STARTED_UNABLE_TO_CONTACT),
        ),
        ("note R-2026-000042 left a voicemail", AddNote(number=N, text="left a voicemail")),
        (
            "close R-2026-000042 partially: no day program nearby",
            Close(number=N, outcome=NeedOutcome.PARTIALLY_MET, reason="no day program nearby"),
        ),
        ("close R-2026-000042 fully met", Close(number=N, outcome=NeedOutcome.FULLY_MET)),
        ("suspend heartland-res", Suspension("heartland-res", True)),
        (
            "access request gate heartland-res",
            AskAccess("gatekeeper", "heartland-res"),
        ),
        (
            "access request provider Heartland Day",
            AskAccess("provider", "Heartland Day"),
        ),
        (
            "access request security officer heartland-res",
            AskAccess("security_officer", "heartland-res"),
        ),
        ("access pending", AccessQueue()),
        ("access approve 12", DecideAccess(12, True)),
        ("access deny #12 Grace covers it", DecideAccess(12, False, "Grace covers it")),
        (
            "access revoke <mailto:dana@heartland.example.org|dana@heartland.example.org> left",
            RevokeAccess("dana@heartland.example.org", "left"),
        ),
        ("access revoke dana@heartland.example.org", RevokeAccess("dana@heartland.example.org")),
    ],
)
def test_commands_are_read(text: str, expected: object) -> None:
    assert parse_command(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "frobnicate",
            '"frobnicate" is not a /referral command. Type /referral help to see every command with an example.',
        ),
        ("accept 42", '"42" is not a referral number. Referral numbers look like R-2026-000042.'),
        (
            "decline R-2026-000042 cannot meet",
            '"cannot" could be more than one decline reason. Say which: cannot meet medical needs, cannot meet behavioural needs.',
        ),
        (
            "decline R-2026-000042",
            "No decline reason given. Choose one of: no vacancy, cannot meet medical needs, cannot meet behavioural needs, location, funding, staffing, other.",
        ),
        (
            "status R-2026-000042 not",
            '"not" could be more than one service status. Say which: not completed - dropped out, not completed - moved out of area, not completed - whereabouts unknown, not started - declined services, not started - moved out of area, not started - on waiting list, not started - referred to other program, not started - unable to contact.',
        ),
        (
            "access request janitor heartland-res",
            '"janitor" is not a role I know. Choose one of: coordinator, gatekeeper, provider, security_officer, admin.',
        ),
        (
            "access request provider",
            "Say which program you want to be a provider of. /referral access request provider PROGRAM-KEY",
        ),
        (
            "access approve twelve",
            "Say which request to approve by its number. /referral access pending lists them with their numbers.",
        ),
        (
            "access revoke",
            "Say whose access to remove, by their email address. /referral access revoke dana@agency.org left the agency",
        ),
    ],
)
def test_what_cannot_be_read_is_answered_with_the_choices(text: str, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_command(text)
    assert str(caught.value) == message
