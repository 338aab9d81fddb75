"""Legal notices under a signature, name signatures, and history headers found in the public
corpora's held-back cases: each cut where a person would say the reply ends."""

from __future__ import annotations

import pytest

from handlers.email.quotes import extract_reply, name_forms

QUOTE = "> New referral R-2026-000042 for Boone County.\n"
NOTICE_EN = (
    "CONFIDENTIALITY NOTICE: This e-mail message, including any attachments, is for the sole use "
    "of the intended recipient(s) and may contain confidential and privileged information."
)


@pytest.mark.parametrize(
    ("body", "reply"),
    [
        # A valediction, a signature, then a legal notice: all three go.
        (
            f"accept\n\nThanks,\nMaria Lopez\nIntake Coordinator\n(555) 201-3344\n\n{NOTICE_EN}",
            "accept",
        ),
        (
            "We can take him.\n\nBest regards,\nJo\n\n*** This message may contain protected "
            "health information (PHI) under HIPAA. If you received it in error, delete it. ***",
            "We can take him.",
        ),
        (
            "No tenemos plazas.\n\nSaludos,\nAna Ruiz\n\nAVISO DE CONFIDENCIALIDAD: Este mensaje y "
            "sus anexos son confidenciales y están dirigidos exclusivamente a sus destinatarios.",
            "No tenemos plazas.",
        ),
        (
            "Wir nehmen ihn auf.\n\nMit freundlichen Grüßen\nK. Weber\n\n------\nDiese E-Mail "
            "enthält vertrauliche und/oder rechtlich geschützte Informationen.",
            "Wir nehmen ihn auf.",
        ),
        (
            "accept\n\n-- Disclaimer --\nThe information in this email is confidential.",
            "accept",
        ),
        # History headers: a framed French date, no colon after "wrote", Polish, Hungarian, Danish.
        (
            'oui\n\n====\n\nMessage du : 12/12/2016 13:20\nDe : "Q" <q@x.fr>\nA : m@x.fr\n'
            "Sujet : x\n\nbody",
            "oui",
        ),
        (
            f"yes\n\nOn Wed, 14 Nov 2018 08:14:43 -0200 John Doe <john@doe.com> wrote\n\n{QUOTE}",
            "yes",
        ),
        (f"tak\n\nDnia 27 grudnia 2016 12:08 Q <q@x.pl> napisał(a):\n\n{QUOTE}", "tak"),
        (f'igen\n\n2013.02.08. 7:31 keltezéssel, "Gyõrvári Eszter" írta:\n{QUOTE}', "igen"),
        ("ja\n\n-------- Oprindelig besked --------\nFra: q@x.dk\n\nbody", "ja"),
        ("ja\n\nGesendet von Outlook für Android<https://aka.ms/AAb9ysg>\n\nHi there", "ja"),
    ],
)
def test_the_reply_ends_where_the_person_stopped_writing(body: str, reply: str) -> None:
    assert extract_reply(body) == reply


@pytest.mark.parametrize(
    ("body", "sender", "reply"),
    [
        ("We accept.\n\nBarry Tycholiz - 713-853-1587.", "Tycholiz, Barry", "We accept."),
        ("We accept.\n\nThanks, BT", "Barry Tycholiz", "We accept."),
        ("We accept.\n\nStephane x6721", '"Brodeur  Stephane"', "We accept."),
        ("We accept.\n\nTodd A. Perry", "Todd Perry", "We accept."),
        ("We accept.\n\nBert Meyers\nReal Time Desk\n503-880-5315", "Meyers", "We accept."),
        # "Your pal, Craig.": a short closing of plain words, then the sender's name
        ("We accept.\n\nYour pal, Craig.", "Craig Heschuk", "We accept."),
        ("We accept.\n\nJohnAnderson\nRealtime", "Anderson, John", "We accept."),
        ("We accept.\n\nChristian and Steve", "Yoder  Christian", "We accept."),
        # Phone, fax, email and web lines do not make a signature too long to be one.
        (
            "We accept.\n\nThanks.\n\nJim Griffin\nManager, Intake\nMontana Care\n"
            "40 East Broadway\nButte, MT  59701\nPhone:  406-497-2806\nFax:      406-497-2054\n"
            "Email: jgriffin@care.org",
            "Griffin, James P",
            "We accept.",
        ),
        # A team line right above the sender's name heads the signature.
        (
            "We accept him gladly.\n\nIntake Team\nJulie Kearney\n503) 464-7404",
            "Kearney  Julie",
            "We accept him gladly.",
        ),
        # A framed heading with the sender's name in it is not a signature.
        (
            "Missing:\n\n---- Load Schedule ----\nFinal schedule not found.",
            "Schedule Crawler",
            None,
        ),
        # The sender's first name opening a sentence is not a signature.
        ("We accept.\n\nMaria will call the family today.", "Maria Lopez", None),
    ],
)
def test_a_signature_in_the_senders_name_is_cut(body: str, sender: str, reply: str | None) -> None:
    assert extract_reply(body, sender_names=name_forms(sender)) == (reply or body)


def test_name_forms_cover_the_ways_people_sign() -> None:
    assert name_forms("Whitfield, Dana") == [
        "Dana Whitfield",
        "Dana",
        "Whitfield",
        "DW",
        "DanaWhitfield",
    ]
    assert name_forms("dana@agency.org") == []


@pytest.mark.parametrize(
    ("body", "reply"),
    [
        ("If you have any questions, please give me a call.\n\nBert", None),
        ("We can take him Monday.\nKim", "We can take him Monday."),
        # Not a name: a word under a greeting, a weekday, a command's reason.
        ("Hej,\n\nSvar.", "Hej,\n\nSvar."),
        ("accept.\nThursday", "accept.\nThursday"),
        ("decline no vacancy.\nFull", "decline no vacancy.\nFull"),
    ],
)
def test_a_lone_first_name_on_the_last_line_signs_the_message(body: str, reply: str | None) -> None:
    expected = reply if reply is not None else "If you have any questions, please give me a call."
    assert extract_reply(body) == expected


@pytest.mark.parametrize(
    ("body", "reply"),
    [
        # A closing paragraph of a name or a team, titles and numbers, under a message
        (
            "We can take him next week.\n\nStella Yu\nManager - Intake\n(713)215-3381",
            "We can take him next week.",
        ),
        ("We can take him next week.\n\nJ. E. McGrath\nManager\nOperations Planning", None),
        ("We can take him next week.\n\nParking & Transportation Desk\n3-7060", None),
        ("You will want to let one of the nurses know of this\n\nBert", None),
        # contact lines alone, two or more
        ("We can take him next week.\n\nl.jones@agency.org\n503-833-4350", None),
        # a long row of hyphens set apart above a short signature
        ("We can take him next week.\n\n----------------\n\nJo Doe\nt. 555-931-0702", None),
    ],
)
def test_a_closing_signature_block_without_the_senders_name_is_cut(
    body: str, reply: str | None
) -> None:
    assert extract_reply(body) == (reply or body.split("\n\n")[0])


@pytest.mark.parametrize(
    "body",
    [
        # answers, links, a lone phone, headings and attachments stay
        "decline\n\nNo Vacancy",
        "We can take him next week.\n\nMonday Morning",
        "Please read the document at:\n\nhttp://intranet.example.org/inf/default.html",
        "Please read the document here.\n\nhttp://a.example.org/x\nhttp://b.example.org/y",
        "Cara's new number is\n\n503-810-1105",
        "Please return both.\n\nProtocol Document and Data Copy Instructions\n\nCertification",
        "He will bring the photo.\n\n - ATT09176.jpg",
        "See you there.\n\nCopyright 2001 The New York Times Company",
        "Hi\n\nthere\n\nBob",
        "Here is my analysis:\n\n## Key Points\n----\n\n1. Faster\n\n----\n\nThe end.",
    ],
)
def test_a_closing_paragraph_that_is_not_a_signature_stays(body: str) -> None:
    assert extract_reply(body) == body
