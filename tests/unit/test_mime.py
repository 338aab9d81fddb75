"""The hand-written MIME of notification emails reads back, with the standard parser, as sent."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage

from handlers.email import mime


def read(raw: bytes) -> EmailMessage:
    # As a mail client shows it: local line endings (the test SMTP server reads it so too).
    message = message_from_bytes(raw.replace(b"\r\n", b"\n"), policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_text_and_html_outside_ascii_with_long_lines_read_back_exactly() -> None:
    text = "Hola José, ñandú: " + "x" * 1200 + "\n.a line starting with a dot\n\ttab end \n"
    html = "<p>Grüße aus Köln</p>\n"
    head = mime.header("Subject", "Überweisung R-2026-000001 für Zoë") + mime.header(
        "From", "closeloop <n@example.org>"
    )
    message = read(mime.compose(head, text, html))
    assert message["Subject"] == "Überweisung R-2026-000001 für Zoë"
    assert message["From"] == "closeloop <n@example.org>"
    assert message.get_content_type() == "multipart/alternative"
    parts = [(p.get_content_type(), p.get_content()) for p in message.iter_parts()]
    assert parts == [("text/plain", text), ("text/html", html)]
    assert all(len(line) <= 998 for line in mime.compose(head, text, html).split(b"\r\n"))


def test_ascii_text_alone_is_seven_bit_and_references_fold_one_id_a_line() -> None:
    ids = [f"<closeloop.{i}.abc@example.org>" for i in range(20)]
    raw = mime.compose(mime.id_list("References", ids), "Two open referrals.\n", None)
    message = read(raw)
    assert message["References"].split() == ids
    assert message["Content-Transfer-Encoding"] == "7bit"
    assert message.get_content() == "Two open referrals.\n"
    assert b"\r\n <closeloop.1.abc@example.org>" in raw


def test_a_header_given_several_lines_stays_one_header() -> None:
    message = read(
        mime.header("Subject", "one\r\nBcc: evil@example.org") + mime.compose(b"", "x\n", None)
    )
    assert message["Subject"] == "one Bcc: evil@example.org"
    assert message["Bcc"] is None
