"""Decisions written as sentences, in English, Spanish and German: one reading, or a question."""

from __future__ import annotations

import pytest

from handlers.email.commands import ParsedCommand, parse_command
from handlers.email.phrasing import Reading, choice_number, question, understand

VISIT = "pending pre-placement visit"
FUNDING = "pending funding approval"
VACANCY = "pending a vacancy"


def read(text: str) -> Reading:
    return understand(text, *parse_command(text))


def said(verb: str, reason: str | None, comment: str) -> ParsedCommand:
    return ParsedCommand(verb, reason, None, comment)


@pytest.mark.parametrize(
    ("text", "verb", "reason", "comment"),
    [
        # English
        ("No vacancy until June", "decline", "no vacancy", "No vacancy until June"),
        ("We can accept her next week", "accept", None, "We can accept her next week"),
        ("we can take him", "accept", None, "we can take him"),
        ("Yes, but only after the visit", "tentative", VISIT, "Yes, but only after the visit"),
        ("yes if funding is approved", "tentative", FUNDING, "yes if funding is approved"),
        ("Accept, pending funding", "tentative", FUNDING, "Accept, pending funding"),
        ("Yes once a bed opens up", "tentative", VACANCY, "Yes once a bed opens up"),
        (
            "unfortunately we have no beds",
            "decline",
            "no vacancy",
            "unfortunately we have no beds",
        ),
        ("we're full", "decline", "no vacancy", "we're full"),
        (
            "Decline\nWe have no vacancy until June",
            "decline",
            "no vacancy",
            "We have no vacancy until June",
        ),
        (
            "Declined.\nHe needs overnight nursing we cannot provide.",
            "decline",
            "cannot meet medical needs",
            "He needs overnight nursing we cannot provide.",
        ),
        (
            "Tentative\nonly after the family visits us",
            "tentative",
            VISIT,
            "only after the family visits us",
        ),
        (
            "Thanks for sending this. We accept and will call the family.",
            "accept",
            None,
            "Thanks for sending this. We accept and will call the family.",
        ),
        ("Hi Ann,\n\nWe can take him.", "accept", None, "We can take him."),
        (
            "Good morning!\nThank you for the referral.\nWe are happy to accept her.",
            "accept",
            None,
            "We are happy to accept her.",
        ),
        (
            "We accept. Let me know if you need anything.",
            "accept",
            None,
            "We accept. Let me know if you need anything.",
        ),
        (
            "No problem, we can take her on Monday",
            "accept",
            None,
            "No problem, we can take her on Monday",
        ),
        (
            "Sorry, he is too far from our area, the family would have to move.",
            None,
            None,
            "",
        ),
        (
            "We are unable to take him, he lives too far away.",
            "decline",
            "location",
            "We are unable to take him, he lives too far away.",
        ),
        # Spanish
        ("Sí, aceptamos", "accept", None, "Sí, aceptamos"),
        ("Hola Ana,\n\nSí, la aceptamos.", "accept", None, "Sí, la aceptamos."),
        (
            "Podemos recibirla la próxima semana.",
            "accept",
            None,
            "Podemos recibirla la próxima semana.",
        ),
        ("No tenemos plazas", "decline", "no vacancy", "No tenemos plazas"),
        (
            "Lamentablemente no podemos aceptarla, no tenemos camas.",
            "decline",
            "no vacancy",
            "Lamentablemente no podemos aceptarla, no tenemos camas.",
        ),
        (
            "Sí, pero solo después de la visita",
            "tentative",
            VISIT,
            "Sí, pero solo después de la visita",
        ),
        (
            "Sí, si se aprueba la financiación",
            "tentative",
            FUNDING,
            "Sí, si se aprueba la financiación",
        ),
        # German
        ("Wir nehmen ihn auf", "accept", None, "Wir nehmen ihn auf"),
        (
            "Hallo Frau Weber,\n\nwir können ihn nächste Woche aufnehmen.",
            "accept",
            None,
            "wir können ihn nächste Woche aufnehmen.",
        ),
        (
            "Leider haben wir keinen Platz",
            "decline",
            "no vacancy",
            "Leider haben wir keinen Platz",
        ),
        (
            "Wir können sie leider nicht aufnehmen, die Pflege ist zu aufwendig.",
            "decline",
            "cannot meet medical needs",
            "Wir können sie leider nicht aufnehmen, die Pflege ist zu aufwendig.",
        ),
        ("Ja, aber erst nach dem Besuch", "tentative", VISIT, "Ja, aber erst nach dem Besuch"),
        (
            "Ja, wenn die Finanzierung bewilligt wird",
            "tentative",
            FUNDING,
            "Ja, wenn die Finanzierung bewilligt wird",
        ),
        # Decisions are the program's own, not someone else's.
        ("Happy to accept her!", "accept", None, "Happy to accept her!"),
        ("We gladly accept.", "accept", None, "We gladly accept."),
        (
            "We are declining due to staffing.",
            "decline",
            "staffing",
            "We are declining due to staffing.",
        ),
        ("The family declined the placement.", None, None, ""),
        ("She has accepted a place elsewhere.", None, None, ""),
        ("They can't take the bed until June, we will call again.", None, None, ""),
        ("Mom says the family doesn't have room for the wheelchair.", None, None, ""),
        # Commands keep their own reading.
        ("accept", "accept", None, ""),
        ("Yes, we can take her", "accept", None, "we can take her"),
        ("decline no vacancy: full until June", "decline", "no vacancy", "full until June"),
        (
            "accept\nWe will do the visit on Tuesday.",
            "accept",
            None,
            "We will do the visit on Tuesday.",
        ),
    ],
)
def test_a_decision_in_words_reads_as_one_command(
    text: str, verb: str | None, reason: str | None, comment: str
) -> None:
    reading = read(text)
    assert reading.choices == ()
    if verb is None:
        assert reading.command is None and reading.error
    else:
        assert reading.command == said(verb, reason, comment)
        assert reading.error is None


@pytest.mark.parametrize(
    ("text", "readings"),
    [
        (
            "Yes, we would like to visit him first",
            [("accept", None), ("tentative", VISIT)],
        ),
        (
            "We can take him but we have no beds until June",
            [("decline", "no vacancy"), ("tentative", VACANCY)],
        ),
        (
            "We can take her, but we are short-staffed and cannot meet her medical needs",
            [("decline", "cannot meet medical needs"), ("decline", "staffing"), ("accept", None)],
        ),
        (
            "We can't take him: no beds, and his medical needs are beyond our nurses.",
            [("decline", "no vacancy"), ("decline", "cannot meet medical needs")],
        ),
    ],
)
def test_a_reply_that_reads_two_ways_is_asked_about(
    text: str, readings: list[tuple[str, str | None]]
) -> None:
    reading = read(text)
    assert reading.command is None
    assert [(c.verb, c.reason) for c in reading.choices] == readings
    assert all(c.comment == text for c in reading.choices)
    assert reading.error == question(reading.choices)


def test_a_digest_answer_keeps_its_referral_number() -> None:
    reading = read("accept R-2026-000042 if funding is approved")
    assert reading.command == ParsedCommand(
        "tentative", FUNDING, None, "accept R-2026-000042 if funding is approved", "R-2026-000042"
    )


def test_the_question_is_one_short_line() -> None:
    reading = read("Yes, we would like to visit him first")
    assert reading.error == (
        "Did you mean accept, or tentatively accept pending pre-placement visit? Reply 1 or 2."
    )


@pytest.mark.parametrize(
    ("text", "errors_with"),
    [
        ("Sorry, we can't accept him.", "I read a decline but not its reason"),
        ("We are not accepting referrals at the moment.", "I read a decline but not its reason"),
        ("decline busy", '"busy" is not a decline reason'),
        ("Not sure yet, will call you", "I could not read a command"),
        ("Thanks!", "I could not read a command"),
    ],
)
def test_no_guess_without_a_decision_and_its_reason(text: str, errors_with: str) -> None:
    reading = read(text)
    assert (reading.command, reading.choices) == (None, ())
    assert reading.error is not None and errors_with in reading.error


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("1", 1),
        ("2.", 2),
        ("Option 2 please", 2),
        ("#1", 1),
        ("Hi,\n\n2", 2),
        ("2 - tentative", 2),
        ("Opción 1", 1),
        ("accept", None),
        ("12 beds are taken", None),
        ("2 of our staff are out", None),
    ],
)
def test_a_numbered_answer_is_recognised(text: str, number: int | None) -> None:
    assert choice_number(text) == number


def test_a_huge_single_line_is_read_only_at_its_start() -> None:
    text = "We can take him. " + "x" * 700_000
    reading = read(text)
    assert reading.command is not None and reading.command.verb == "accept"
    assert reading.command.comment == text  # the comment is the sender's words, whole
