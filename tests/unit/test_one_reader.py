"""The same words read the same way on every channel: each phrase goes through Slack's text
parser, a Slack modal's values, an email reply's reader, the web form parser and the API's
body, and every one of them must give the same command (bot/commands.py)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from bot.commands import EXAMPLES, AddNote, Assign, Close, Respond, SetStatus, WorkCommand, example
from bot.domain.vocab import NeedOutcome, ResponseKind, ServiceStatus
from bot.errors import InvalidInput
from handlers.api.work import AssignIn, NoteIn, RespondIn, StatusIn
from handlers.email.commands import parse_command as parse_email
from handlers.email.commands import work_command
from handlers.slack.blocks import COMMENT_BLOCK, REASON_BLOCK, Target, encode
from handlers.slack.commands import parse_command as parse_slack
from handlers.slack.listeners.actions import accept_command, assign_command
from handlers.slack.listeners.views import respond_command
from handlers.web.work import command_of_form

N = "R-2026-000042"


def _email(text: str) -> WorkCommand:
    parsed, error = parse_email(text)
    if parsed is None:
        raise InvalidInput(error or "unread")
    return work_command(parsed, N)


def _modal(kind: str, reason: str | None, comment: str | None) -> WorkCommand:
    values = {
        REASON_BLOCK: {REASON_BLOCK: {"selected_option": {"value": reason}}},
        COMMENT_BLOCK: {COMMENT_BLOCK: {"value": comment}},
    }
    metadata = json.dumps({"n": N, "p": None, "k": kind})
    return respond_command({"private_metadata": metadata, "state": {"values": values}})


RESPONSES = [
    # (response, reason as typed, comment, the reason read)
    ("accept", None, "we can start Monday", None),
    ("decline", "cannot meet behavioral needs", "beds full", "cannot meet behavioural needs"),
    ("decline", "no vac", "beds full", "no vacancy"),
    ("decline", "MEDICAL", "none on staff", "cannot meet medical needs"),
    ("tentative", "pending fund", "county decides", "pending funding approval"),
    ("tentative", "vacancy", "one bed in May", "pending a vacancy"),
]


@pytest.mark.parametrize(("kind", "typed", "comment", "reason"), RESPONSES)
def test_a_response_reads_the_same_on_every_channel(
    kind: str, typed: str | None, comment: str, reason: str | None
) -> None:
    expected = Respond(number=N, kind=ResponseKind(kind), reason=reason, comment=comment)
    words = " ".join(w for w in (typed, comment) if w)
    channels: dict[str, Callable[[], WorkCommand]] = {
        "slack text": lambda: parse_slack(f"{kind} {N} {words}"),
        "email": lambda: _email(f"{kind} {words}"),
        "web form": lambda: command_of_form(
            "respond", N, {"response": kind, f"reason_{kind}": typed or "", "comment": comment}
        ),
        "api": lambda: RespondIn(response=kind, reason=typed, comment=comment).command(N),
    }
    if kind == "accept":
        channels["slack button"] = lambda: accept_command({"value": encode(Target(N))})
        expected_button = expected.model_copy(update={"comment": None})
        assert channels.pop("slack button")() == expected_button
    else:
        channels["slack modal"] = lambda: _modal(kind, typed, comment)
    read = {name: channel() for name, channel in channels.items()}
    assert read == dict.fromkeys(channels, expected)


STATUSES = [
    ("not started unable", ServiceStatus.NOT_STARTED_UNABLE_TO_CONTACT),
    ("enrolled", ServiceStatus.ENROLLED),
    ("on wait", ServiceStatus.WAITING_LIST),
    ("Closed - successful completion", ServiceStatus.CLOSED_SUCCESS),
]


@pytest.mark.parametrize(("typed", "status"), STATUSES)
def test_a_service_status_reads_the_same_on_every_channel(
    typed: str, status: ServiceStatus
) -> None:
    expected = SetStatus(number=N, status=status)
    read = [
        parse_slack(f"status {N} {typed}"),
        _email(f"status {typed}"),
        command_of_form("status", N, {"status": typed}),
        StatusIn(status=typed).command(N),
    ]
    assert read == [expected] * 4


def test_an_assignment_and_a_note_read_the_same_on_every_channel() -> None:
    person = "dana@heartland.example.org"
    assigned = Assign(number=N, provider=person)
    assert [
        parse_slack(f"assign {N} {person}"),
        _email(f"assign {person}"),
        command_of_form("assign", N, {"provider": person}),
        AssignIn(provider=person).command(N),
    ] == [assigned] * 4
    picked = {"selected_option": {"value": encode(Target(N, "heartland-res", 7))}}
    assert assign_command(picked) == Assign(number=N, provider=7, program="heartland-res")

    noted = AddNote(number=N, text="left a voicemail")
    assert [
        parse_slack(f"note {N} left a voicemail"),
        _email("note left a voicemail"),
        command_of_form("notes", N, {"text": "left a voicemail"}),
        NoteIn(text="left a voicemail").command(N),
    ] == [noted] * 4


@pytest.mark.parametrize(
    ("typed", "outcome", "reason"),
    [
        ("partially met: moved away", NeedOutcome.PARTIALLY_MET, "moved away"),
        ("not met: no day program nearby", NeedOutcome.NOT_MET, "no day program nearby"),
        ("fully met", NeedOutcome.FULLY_MET, None),
    ],
)
def test_a_close_reads_the_same_on_every_channel(
    typed: str, outcome: NeedOutcome, reason: str | None
) -> None:
    expected = Close(number=N, outcome=outcome, reason=reason)
    said, _, why = typed.partition(":")
    assert [
        parse_slack(f"close {N} {typed}"),
        _email(f"close {typed}"),
        command_of_form("close", N, {"outcome": said, "reason": why.strip()}),
    ] == [expected] * 3


@pytest.mark.parametrize(
    ("slack", "email", "api", "choices"),
    [
        (
            f"decline {N} cannot meet",
            "decline cannot meet",
            lambda: RespondIn(response="decline", reason="cannot meet").command(N),
            "cannot meet medical needs, cannot meet behavioural needs",
        ),
        (
            f"status {N} not started - moved",
            "status not started - moved",
            lambda: StatusIn(status="not started - moved").command(N),
            None,
        ),
    ],
)
def test_what_is_ambiguous_is_refused_alike(
    slack: str, email: str, api: Callable[[], WorkCommand], choices: str | None
) -> None:
    """Refused everywhere with the same choices offered; or, for an unambiguous prefix, read."""
    if choices is None:
        expected = SetStatus(number=N, status=ServiceStatus.NOT_STARTED_MOVED)
        assert [parse_slack(slack), _email(email), api()] == [expected] * 3
        return
    hint = f"Say which: {choices}."
    with pytest.raises(InvalidInput) as caught:
        parse_slack(slack)
    assert caught.value.hint == hint
    parsed, error = parse_email(email)
    assert parsed is None and error is not None and hint in error
    with pytest.raises(InvalidInput) as caught:
        api()
    assert caught.value.hint == hint


@pytest.mark.parametrize("verb", sorted(EXAMPLES))
def test_every_example_shown_to_people_reads_alike_in_slack_and_email(verb: str) -> None:
    """The examples in the help, the notification emails and the error answers are commands."""
    assert parse_slack(example(verb, N)) == _email(example(verb))
