"""Every sample in the reply corpus reads to its recorded kind, stripped text, command and
comment (or the question it asks, or the numbered answer it gives)."""

from __future__ import annotations

import json

import pytest

from handlers.email.reading import read_message

from .helpers import FIXTURES, REPLY_ADDRESS

REPLIES = FIXTURES / "replies"
EXPECTED: dict[str, dict[str, object]] = json.loads((REPLIES / "expected.json").read_text())


def test_the_corpus_is_as_large_and_varied_as_promised() -> None:
    replies = [name for name, want in EXPECTED.items() if want["kind"] == "reply"]
    assert len(replies) >= 75
    assert all("reply" in EXPECTED[name] for name in replies)
    # In people's own words, in English, Spanish and German, from every common client.
    natural = [name for name in replies if name.startswith("natural_")]
    assert len(natural) >= 24
    for client in ("gmail", "outlook", "owa", "apple_mail", "iphone", "yahoo", "thunderbird"):
        assert any(name.startswith(f"natural_{client}") for name in natural), client
    assert any("_es_" in name for name in natural) and any("_de_" in name for name in natural)
    assert {want["kind"] for want in EXPECTED.values()} == {
        "reply",
        "auto_reply",
        "bounce",
        "other",
    }
    assert sorted(p.name for p in REPLIES.glob("*.eml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_reads_as_expected(name: str) -> None:
    want = EXPECTED[name]
    msg = read_message((REPLIES / name).read_bytes(), reply_address=REPLY_ADDRESS)
    command = msg.command
    got = {
        "kind": msg.kind,
        "verb": command.verb if command else None,
        "reason": command.reason if command else None,
        "argument": command.argument if command else None,
        "comment": command.comment if command else "",
    }
    assert got == {key: want[key] for key in got}
    if command is not None:
        assert msg.error is None
    if "error_contains" in want:
        assert msg.error is not None
        assert str(want["error_contains"]) in msg.error
    if "reply" in want:
        assert msg.reply == want["reply"]
    assert msg.choice == want.get("choice")
    if "bounced_recipients" in want:
        assert msg.bounced_recipients == want["bounced_recipients"]
    if msg.kind == "reply":
        assert msg.reply_token is not None
        assert f"replies+{msg.reply_token.lower()}@closeloop.example.org" in msg.to_addresses
