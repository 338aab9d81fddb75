"""Quoted history and signatures are cut; the newly written text is kept whole."""

from __future__ import annotations

import pytest

from handlers.email.quotes import extract_reply

QUOTE = "> New referral R-2026-000042 for Boone County.\n>\n> Urgency: urgent\n"


@pytest.mark.parametrize(
    ("body", "reply"),
    [
        # Gmail, attribution on one line and wrapped over two
        (
            f"accept\n\nOn Tue, Mar 3, 2026 at 9:58 AM closeloop <r@x.org> wrote:\n\n{QUOTE}",
            "accept",
        ),
        (
            f"accept\n\nOn Tue, Mar 3, 2026 at 9:58 AM closeloop <\nr@x.org> wrote:\n\n{QUOTE}",
            "accept",
        ),
        # Gmail wrapping just before the closing ">:" (Norwegian)
        (f"ja\n\ntir. 18. apr. 2017 kl. 13:09 skrev Test <t@x.org\n>:\n\n{QUOTE}", "ja"),
        # Outlook desktop header block, with and without the Original Message line
        (
            "decline location\n\nFrom: closeloop <r@x.org>\nSent: Tuesday, March 3, 2026\n"
            "To: Maria\nSubject: [closeloop] R-2026-000042\n\nNew referral",
            "decline location",
        ),
        (
            "accept\n\n-----Original Message-----\nFrom: closeloop\nSent: Tuesday\n\nNew referral",
            "accept",
        ),
        # Outlook web: underscores over the header block; German keys
        (
            "accept\n\n________________________________\nVon: closeloop <r@x.org>\n"
            "Gesendet: Dienstag, 3. März 2026\nAn: Jürgen\nBetreff: x\n\nNew referral",
            "accept",
        ),
        # Apple Mail / iOS: quoted attribution, mobile signature
        (
            f"Accept\n\nSent from my iPhone\n\n> On Mar 3, 2026, at 9:58 AM, c <r@x.org> wrote:\n{QUOTE}",
            "Accept",
        ),
        ("Accept\n\nGet Outlook for Android<https://aka.ms/x>", "Accept"),
        ("Accept\n\nVon meinem iPhone gesendet", "Accept"),
        # Thunderbird, "-- " signature delimiter
        (
            f"accept\n\n-- \nAna Ruiz\nBoone Independence\n\nOn 3/3/26 9:58 AM, closeloop wrote:\n{QUOTE}",
            "accept",
        ),
        # Zoho dashes around the attribution
        ("accept\n\n---- On Wed, 24 Feb 2021 14:02:50 +0530 a@x.org wrote ----\n\nold", "accept"),
        # A forwarded message below
        ("note fyi\n\n---------- Forwarded message ---------\nFrom: x\nDate: y\n\nold", "note fyi"),
        # Bottom-posted: the reply is the first unquoted block under the quote
        (
            f"On 3/3/26 9:58 AM, closeloop wrote:\n{QUOTE}\ndecline no vacancy\n\n-- \nAna\n",
            "decline no vacancy",
        ),
        # Inline: the first answer under the first quoted block
        ("On 3/3/26, c wrote:\n> first?\n\naccept\n\n> second?\n\nlater text\n", "accept"),
        # A salutation over the quote and the answer below it belong together
        (f"Hi Dana,\nOn 3/3/26, c wrote:\n{QUOTE}\naccept\n", "Hi Dana,\n\naccept"),
        # Valedictions close the reply; a sentence using the word does not
        (
            "accept\nWe will call Monday.\n\nThanks,\nMaria Lopez\nIntake",
            "accept\nWe will call Monday.",
        ),
        (
            "accept\n\nWith regards to the visit, Monday.",
            "accept\n\nWith regards to the visit, Monday.",
        ),
        ("Thanks!", "Thanks!"),
        # Gateways' banners above and confidentiality notices below
        (
            "[EXTERNAL] This message came from outside the agency.\n\naccept\n\n"
            "CONFIDENTIALITY NOTICE: This e-mail may contain protected information.",
            "accept",
        ),
        # Not history: "On" sentences, From: in text, a quote of a sentence with no header
        (
            "On the other hand, accept.\nOn average it works.",
            "On the other hand, accept.\nOn average it works.",
        ),
        ("The data comes From: our database.\n\nok", "The data comes From: our database.\n\nok"),
        ("Fix -- not a signature.\n\nbye", "Fix -- not a signature.\n\nbye"),
        ("Sent from my desk, is much easier.", "Sent from my desk, is much easier."),
        # A sentence above a one-line attribution stays with the reply
        (
            'I will try as soon as I\nget back.\nOn Dec 8, 2013 2:10 PM, "J" <j@x.org> wrote:\n> q',
            "I will try as soon as I\nget back.",
        ),
        ("", ""),
        (f"On 3/3/26, c wrote:\n{QUOTE}", ""),
    ],
)
def test_reply_is_extracted(body: str, reply: str) -> None:
    assert extract_reply(body) == reply


def test_the_sender_name_ends_the_reply_when_it_signs_off() -> None:
    body = "accept\nIntake on Monday.\n\nMaria Lopez\nIntake Coordinator\n(573) 555-0142"
    # Without the sender's name, the closing block is still a signature by its shape.
    assert extract_reply(body) == "accept\nIntake on Monday."
    run_on = "accept\nIntake on Monday.\nMaria Lopez will call the family."
    assert extract_reply(run_on, sender_names=["Maria Lopez", "Maria"]) == run_on
    assert extract_reply(body, sender_names=["Maria Lopez", "Maria"]) == "accept\nIntake on Monday."
    assert extract_reply("accept\n\nMaria", sender_names=["Maria"]) == "accept"


def test_crlf_nbsp_and_zero_width_characters_are_normalised() -> None:
    body = (
        "accept\u00a0now\u200b\r\n\r\nOn Tue, Mar 3, 2026 at 9:58 AM c <r@x.org> wrote:\r\n> q\r\n"
    )
    assert extract_reply(body) == "accept now"
