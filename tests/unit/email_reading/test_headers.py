"""Headers: sender, recipients, reply token, DMARC, and machine mail told from people's replies."""

from __future__ import annotations

import pytest

from handlers.email.reading import read_message, to_json

from .helpers import REPLY_ADDRESS, TOKEN, raw_message


def test_addresses_are_bare_and_lower_cased() -> None:
    raw = raw_message(
        "accept",
        headers={
            "From": '"Lopez, Maria" <Maria.Lopez@Riverbend-Supports.org>',
            "To": "Intake <Intake@Agency.org>, closeloop <REPLIES+"
            + TOKEN
            + "@closeloop.example.org>",
            "Cc": "Dana <dana@agency.org>, intake@agency.org",
            "Delivered-To": "replies+" + TOKEN + "@closeloop.example.org",
            "X-Original-To": "archive@agency.org",
        },
    )
    msg = read_message(raw, reply_address=REPLY_ADDRESS)
    assert msg.from_address == "maria.lopez@riverbend-supports.org"
    assert msg.to_addresses == [
        "intake@agency.org",
        f"replies+{TOKEN}@closeloop.example.org",
        "dana@agency.org",
        "archive@agency.org",
    ]
    assert msg.reply_token == TOKEN
    assert msg.message_id == "<reply-1@riverbend-supports.org>"
    assert msg.in_reply_to == "<notif-42@closeloop.example.org>"
    assert msg.subject == "Re: [closeloop] R-2026-000042 new referral: Boone County"


@pytest.mark.parametrize(
    ("to", "token"),
    [
        (f"replies+{TOKEN}@closeloop.example.org", TOKEN),
        (f"x <replies+{TOKEN}@CLOSELOOP.example.org>", TOKEN),
        ("replies@closeloop.example.org", None),
        ("replies+@closeloop.example.org", None),
        (f"replies+{TOKEN}@elsewhere.example.org", None),
        (f"other+{TOKEN}@closeloop.example.org", None),
        (f"noreplies+{TOKEN}@closeloop.example.org", None),
    ],
)
def test_the_reply_token_comes_only_from_our_reply_address(to: str, token: str | None) -> None:
    msg = read_message(raw_message("accept", headers={"To": to}), reply_address=REPLY_ADDRESS)
    assert msg.reply_token == token
    assert msg.kind == ("reply" if token else "other")


def test_the_token_is_taken_from_the_envelope_when_to_was_rewritten() -> None:
    raw = raw_message(
        "accept",
        headers={
            "To": "undisclosed-recipients:;",
            "Delivered-To": f"replies+{TOKEN}@closeloop.example.org",
        },
    )
    assert read_message(raw, reply_address=REPLY_ADDRESS).reply_token == TOKEN


@pytest.mark.parametrize(
    ("results", "trusted", "dmarc"),
    [
        (
            ["mx.closeloop.example.org; dmarc=pass (p=none) header.from=x.org"],
            "mx.closeloop.example.org",
            "pass",
        ),
        (
            ["mx.closeloop.example.org 1; spf=pass; DMARC=Fail header.from=x.org"],
            "MX.closeloop.example.org",
            "fail",
        ),
        (["evil.example.net; dmarc=pass"], "mx.closeloop.example.org", None),
        (["mx.closeloop.example.org; dmarc=pass"], None, None),
        (
            ["mx.closeloop.example.org; spf=pass (dmarc=pass in a comment)"],
            "mx.closeloop.example.org",
            None,
        ),
        (
            ["evil.example.net; dmarc=pass", "mx.closeloop.example.org; dmarc=none"],
            "mx.closeloop.example.org",
            "none",
        ),
    ],
)
def test_dmarc_is_read_only_from_the_trusted_server(
    results: list[str], trusted: str | None, dmarc: str | None
) -> None:
    head = "".join(f"Authentication-Results: {value}\r\n" for value in results)
    raw = head.encode() + raw_message("accept")
    assert (
        read_message(raw, reply_address=REPLY_ADDRESS, trusted_authserv_id=trusted).dmarc == dmarc
    )


@pytest.mark.parametrize(
    "headers",
    [
        {"Auto-Submitted": "auto-replied"},
        {"Auto-Submitted": "auto-generated; owner-email=x@y.org"},
        {"X-Autoreply": "yes"},
        {"X-Autorespond": "Out of office"},
        {"Precedence": "bulk"},
        {"Precedence": "Auto_Reply"},
        {"Precedence": "list"},
        {"Precedence": "junk"},
        {"List-Id": "<staff.agency.org>"},
        {"List-Unsubscribe": "<mailto:leave@agency.org>"},
        {"Return-Path": "<>"},
        {"Subject": "Out of Office: [closeloop] R-2026-000042"},
        {"Subject": "Automatic reply: [closeloop] R-2026-000042"},
        {"Subject": "Autoreply: away"},
        {"Subject": "Abwesenheitsnotiz: [closeloop]"},
        {"Subject": "Réponse automatique : [closeloop]"},
        {"Subject": "Respuesta automática: [closeloop]"},
        {"Subject": "Risposta automatica: [closeloop]"},
        {"Subject": "Automatisch antwoord: [closeloop]"},
    ],
)
def test_machine_mail_is_an_auto_reply_and_never_a_command(headers: dict[str, str]) -> None:
    msg = read_message(raw_message("accept", headers=headers), reply_address=REPLY_ADDRESS)
    assert msg.kind == "auto_reply"
    assert msg.command is None
    assert msg.error is not None


@pytest.mark.parametrize(
    "headers", [{"Auto-Submitted": "no"}, {"Auto-Submitted": "No"}, {"Precedence": "first-class"}]
)
def test_a_person_may_carry_harmless_headers(headers: dict[str, str]) -> None:
    msg = read_message(raw_message("accept", headers=headers), reply_address=REPLY_ADDRESS)
    assert msg.kind == "reply"
    assert msg.command is not None and msg.command.verb == "accept"


@pytest.mark.parametrize(
    ("sender", "subject"),
    [
        ("MAILER-DAEMON@mx.agency.org", "Undelivered Mail Returned to Sender"),
        (
            "Mail Delivery Subsystem <mailer-daemon@googlemail.com>",
            "Delivery Status Notification (Failure)",
        ),
        ("postmaster@agency.org", "Undeliverable: [closeloop] R-2026-000042"),
    ],
)
def test_a_daemon_reporting_failure_is_a_bounce(sender: str, subject: str) -> None:
    msg = read_message(
        raw_message("gone", headers={"From": sender, "Subject": subject}),
        reply_address=REPLY_ADDRESS,
    )
    assert msg.kind == "bounce"
    assert msg.command is None


def test_a_postmaster_writing_as_a_person_is_not_a_bounce() -> None:
    msg = read_message(
        raw_message("accept", headers={"From": "postmaster@agency.org", "Subject": "Re: referral"}),
        reply_address=REPLY_ADDRESS,
    )
    assert msg.kind == "reply"


def test_a_read_receipt_report_is_machine_mail() -> None:
    body = (
        "--b\r\nContent-Type: text/plain\r\n\r\nRead.\r\n"
        "--b\r\nContent-Type: message/disposition-notification\r\n\r\n"
        "Disposition: manual-action/MDN-sent-manually; displayed\r\n--b--\r\n"
    )
    raw = raw_message(
        body, content_type='multipart/report; report-type=disposition-notification; boundary="b"'
    )
    assert read_message(raw, reply_address=REPLY_ADDRESS).kind == "auto_reply"


def test_our_own_mail_coming_back_is_never_read_as_a_command() -> None:
    raw = raw_message("accept", headers={"From": "closeloop <Notify@closeloop.example.org>"})
    msg = read_message(
        raw, reply_address=REPLY_ADDRESS, own_addresses=["notify@closeloop.example.org"]
    )
    assert msg.kind == "auto_reply"
    assert msg.command is None


def test_to_json_is_what_the_cli_prints() -> None:
    raw = raw_message("decline no vacancy: full until June")
    data = to_json(read_message(raw, reply_address=REPLY_ADDRESS))
    assert data == {
        "kind": "reply",
        "reply": "decline no vacancy: full until June",
        "command": {
            "verb": "decline",
            "reason": "no vacancy",
            "argument": None,
            "comment": "full until June",
            "number": None,
        },
        "choices": [],
        "choice": None,
        "error": None,
        "message_id": "<reply-1@riverbend-supports.org>",
        "from_address": "maria.lopez@riverbend-supports.org",
        "to_addresses": [f"replies+{TOKEN}@closeloop.example.org"],
        "reply_token": TOKEN,
        "in_reply_to": "<notif-42@closeloop.example.org>",
        "subject": "Re: [closeloop] R-2026-000042 new referral: Boone County",
        "dmarc": None,
        "bounced_recipients": [],
        "truncated": False,
    }


def test_empty_and_headerless_input_reads_without_error() -> None:
    empty = read_message(b"", reply_address=REPLY_ADDRESS)
    assert (empty.kind, empty.command, empty.from_address, empty.to_addresses) == (
        "other",
        None,
        None,
        [],
    )
    assert empty.error is not None
