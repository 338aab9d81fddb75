"""The reader's parser policy reads every header of every fixture exactly as policy.default does."""

from __future__ import annotations

from email import policy
from email.message import Message
from email.parser import BytesParser
from pathlib import Path

import pytest

from handlers.email.parsing import parse_message

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "email"
MESSAGES = sorted(FIXTURES.rglob("*.eml"))

TRICKY = (
    b"From: =?utf-8?q?Ren=C3=A9e?= <renee@example.org>\r\n"
    b'To: "Holt, Grace" <grace@example.org>, dana@example.org (Dana)\r\n'
    b"Subject: Re: [closeloop]\r\n  folded   subject\r\n"
    b"Message-ID:  <a.b@example.org> \r\n"
    b'Content-Type: text/plain; charset="utf-8"; format=flowed\r\n'
    b"X-Custom: caf\xc3\xa9\r\n"
    b"\r\n"
    b"accept\r\n"
)


def headers(msg: Message) -> list[tuple[str, list[str] | str]]:
    found: list[tuple[str, list[str] | str]] = []
    for part in msg.walk():
        for name in sorted({key.lower() for key in part}):
            try:
                found.append((name, [str(value) for value in part.get_all(name) or []]))
            except (ValueError, TypeError, IndexError) as exc:
                found.append((name, type(exc).__name__))
    return found


@pytest.mark.parametrize("raw", [path.read_bytes() for path in MESSAGES] + [TRICKY])
def test_every_header_reads_as_policy_default_reads_it(raw: bytes) -> None:
    expected = BytesParser(policy=policy.default).parsebytes(raw)
    assert headers(parse_message(raw)) == headers(expected)
    # Asked twice (the second answer may come from the policy's memory): the same again.
    assert headers(parse_message(raw)) == headers(expected)


def test_the_fixtures_are_there() -> None:
    assert len(MESSAGES) > 100
