"""The command grammar: verbs, reasons by unambiguous prefix, comments, greetings, errors."""

from __future__ import annotations

import pytest

from handlers.email.commands import ParsedCommand, parse_command


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("accept", ParsedCommand("accept", None, None, "")),
        ("ACCEPT", ParsedCommand("accept", None, None, "")),
        ("acc", ParsedCommand("accept", None, None, "")),
        ("Accepted.", ParsedCommand("accept", None, None, "")),
        ("Yes, we can take her", ParsedCommand("accept", None, None, "we can take her")),
        (
            "accept - intake Thursday\nCall the guardian first.",
            ParsedCommand("accept", None, None, "intake Thursday\nCall the guardian first."),
        ),
        ("decline no vacancy", ParsedCommand("decline", "no vacancy", None, "")),
        ("no no vacancy", ParsedCommand("decline", "no vacancy", None, "")),
        ("Declined staffing", ParsedCommand("decline", "staffing", None, "")),
        (
            "decline cannot meet medical: we have no nurse",
            ParsedCommand("decline", "cannot meet medical needs", None, "we have no nurse"),
        ),
        (
            "decline no vacancy, full until June",
            ParsedCommand("decline", "no vacancy", None, "full until June"),
        ),
        (
            "decline funding ran out",
            ParsedCommand("decline", "funding", None, "ran out"),
        ),
        (
            "decline behavioral - 2:1 staffing needed",
            ParsedCommand("decline", "cannot meet behavioural needs", None, "2:1 staffing needed"),
        ),
        (
            "provision funding: waiting on approval",
            ParsedCommand("tentative", "pending funding approval", None, "waiting on approval"),
        ),
        (
            "tentative pre-placement visit Tuesday",
            ParsedCommand("tentative", "pending pre-placement visit", None, "Tuesday"),
        ),
        ("tent vacancy", ParsedCommand("tentative", "pending a vacancy", None, "")),
        (
            "status not started unable",
            ParsedCommand("status", "not started - unable to contact", None, ""),
        ),
        (
            "status not started - unable to contact: tried three times",
            ParsedCommand("status", "not started - unable to contact", None, "tried three times"),
        ),
        ("status enrolled", ParsedCommand("status", "enrolled in services", None, "")),
        (
            "assign dana@agency.org\nDana covers Boone.",
            ParsedCommand("assign", None, "dana@agency.org", "Dana covers Boone."),
        ),
        ("assign Tom Becker", ParsedCommand("assign", None, "Tom Becker", "")),
        (
            "note Called the family.\nVisit on Friday.",
            ParsedCommand("note", None, "Called the family.\nVisit on Friday.", ""),
        ),
        ("Note: left a voicemail", ParsedCommand("note", None, "left a voicemail", "")),
        ("\n\n  accept  \n", ParsedCommand("accept", None, None, "")),
    ],
)
def test_commands_read(text: str, expected: ParsedCommand) -> None:
    assert parse_command(text) == (expected, None)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hi Dana,\n\naccept", ParsedCommand("accept", None, None, "")),
        ("Hello!\ndecline location", ParsedCommand("decline", "location", None, "")),
        ("Dana,\nstatus enrolled", ParsedCommand("status", "enrolled in services", None, "")),
        ("Good morning,\n\nyes", ParsedCommand("accept", None, None, "")),
        ("Hi Dana, accept - see you Monday", ParsedCommand("accept", None, None, "see you Monday")),
    ],
)
def test_a_greeting_may_come_before_the_command(text: str, expected: ParsedCommand) -> None:
    assert parse_command(text) == (expected, None)


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("decline busy", ['"decline" (decline)', '"busy" is not a decline reason', "no vacancy"]),
        ("tentative", ['"tentative" (tentative) but no provision', "pending funding approval"]),
        ("status closed", ["could be more than one service status", "closed - successful"]),
        ("Sounds good, thanks!", ['("Sounds good, thanks!")', '"decline no vacancy: full']),
        ("Not sure yet", ['("Not sure yet")']),
        ("a", ['("a")']),
        ("assign", ['"assign" but not who']),
        ("note", ['"note" but no text']),
        ("", ["no text above the quoted message"]),
        ("Hi Dana,", ['("Hi Dana,")']),
    ],
)
def test_what_cannot_be_read_is_explained(text: str, fragments: list[str]) -> None:
    command, error = parse_command(text)
    assert command is None
    assert error is not None
    for fragment in fragments:
        assert fragment in error


def test_verb_prefixes_need_three_letters_and_not_is_not_note() -> None:
    assert parse_command("ass Tom") == (ParsedCommand("assign", None, "Tom", ""), None)
    assert parse_command("sta enrolled")[0] == ParsedCommand(
        "status", "enrolled in services", None, ""
    )
    for text in ("as Tom", "st enrolled", "not now"):
        command, error = parse_command(text)
        assert command is None
        assert error is not None and "could not read a command" in error


def test_no_alone_is_a_decline_without_its_reason() -> None:
    command, error = parse_command("no")
    assert command is None
    assert error is not None and '"no" (decline) but no decline reason' in error


def test_a_long_first_line_is_quoted_back_shortened() -> None:
    command, error = parse_command("Thanks " + "very " * 40 + "much")
    assert command is None
    assert error is not None
    quoted = error.split('("', 1)[1].split('")', 1)[0]
    assert len(quoted) == 80
    assert quoted.endswith("…")
