"""SMTP_URL and IMAP_URL parsing: what each form means, and errors that never show a password."""

from __future__ import annotations

import pytest

from handlers.email.urls import ImapUrl, SmtpUrl, parse_imap_url, parse_smtp_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "smtp://mailer:pa%40ss%2Fw@mail.example.org:587?starttls=true",
            SmtpUrl("mail.example.org", 587, "mailer", "pa@ss/w", "starttls", True),
        ),
        ("smtps://u:p@mail.example.org", SmtpUrl("mail.example.org", 465, "u", "p", "tls", True)),
        ("smtp://relay.internal", SmtpUrl("relay.internal", 25, None, None, "plain", True)),
        (
            "SMTP://u:p@127.0.0.1:2525?verify=false&starttls=yes",
            SmtpUrl("127.0.0.1", 2525, "u", "p", "starttls", False),
        ),
        ("smtp://u%2Bx@h:25/", SmtpUrl("h", 25, "u+x", None, "plain", True)),
    ],
)
def test_smtp_url_forms(url: str, expected: SmtpUrl) -> None:
    assert parse_smtp_url(url) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "imaps://bot:s3cret@imap.example.org/INBOX",
            ImapUrl("imap.example.org", 993, "bot", "s3cret", "INBOX", "tls", True),
        ),
        (
            "imap://bot:s3cret@127.0.0.1:1143/Referral%20replies",
            ImapUrl("127.0.0.1", 1143, "bot", "s3cret", "Referral replies", "plain", True),
        ),
        (
            "imap://bot%40example.org:a%3Ab@host?starttls=true",
            ImapUrl("host", 143, "bot@example.org", "a:b", "INBOX", "starttls", True),
        ),
        (
            "imaps://bot:x@host:10993/INBOX/closeloop?verify=false",
            ImapUrl("host", 10993, "bot", "x", "INBOX/closeloop", "tls", False),
        ),
    ],
)
def test_imap_url_forms(url: str, expected: ImapUrl) -> None:
    assert parse_imap_url(url) == expected


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mail.example.org:587", "SMTP_URL must start with smtp:// or smtps://"),
        ("http://u:hunter2@h", "SMTP_URL must start with smtp:// or smtps://, not 'http'://"),
        ("smtps://u:hunter2@h?starttls=true", "starttls=true cannot be combined with smtps://"),
        ("smtp://u:hunter2@h?tls=1", "SMTP_URL has an unknown option 'tls'"),
        ("smtp://u:hunter2@h?starttls=maybe", "option starttls must be true or false"),
        ("smtp://u:hun/ter2@h", "SMTP_URL has an invalid port"),
        ("smtp://u:hunter2@h:99999", "SMTP_URL has an invalid port"),
        ("smtp://u:hun#ter2@h", "contains '#'"),
        ("smtp://:hunter2@h", "SMTP_URL has a password but no user name"),
        ("smtp://u:hunter2@", "SMTP_URL has no host name"),
        ("smtp://u:hunter2@h/path", "SMTP_URL must not have a path"),
    ],
)
def test_smtp_url_errors_name_the_problem_without_the_password(url: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_smtp_url(url)
    assert message in str(caught.value)
    assert "hunter2" not in str(caught.value)
    assert "ter2" not in str(caught.value)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("imap://host/INBOX", "IMAP_URL needs a user name and a password"),
        ("imap://bot@host/INBOX", "IMAP_URL needs a user name and a password"),
        ("imaps://bot:hunter2@host:0/INBOX", "IMAP_URL has an invalid port (0)"),
        ("pop3://bot:hunter2@host", "IMAP_URL must start with imap:// or imaps://"),
        ("imap://bot:hunter2@host?verify=nope", "IMAP_URL option verify must be true or false"),
    ],
)
def test_imap_url_errors(url: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_imap_url(url)
    assert message in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_repr_and_redacted_form_leave_the_password_out() -> None:
    smtp = parse_smtp_url("smtp://mailer:hunter2@mail.example.org:587?starttls=true")
    imap = parse_imap_url("imaps://bot:hunter2@imap.example.org/Replies?verify=false")

    assert smtp.redacted() == "smtp://mailer@mail.example.org:587?starttls=true"
    assert imap.redacted() == "imaps://bot@imap.example.org:993/Replies?verify=false"
    assert "hunter2" not in repr(smtp)
    assert "hunter2" not in repr(imap)
