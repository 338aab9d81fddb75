"""Reading is bounded: inputs built to make regular expressions backtrack read fast and right."""

from __future__ import annotations

import gzip

from handlers.email.reading import MSG_TOO_SLOW, read_message

from .helpers import FIXTURES, REPLY_ADDRESS, raw_message

PATHOLOGICAL = FIXTURES / "pathological"


def test_githubs_pathological_body_reads_to_its_reply() -> None:
    body = (PATHOLOGICAL / "pathological.txt").read_text()
    msg = read_message(raw_message(body), reply_address=REPLY_ADDRESS)
    assert msg.reply == (
        "I think you're onto something. I will try to fix the problem as soon as I\n"
        "get back to a computer."
    )
    assert msg.truncated is False
    assert msg.command is None


def test_a_700_kb_quote_line_reads_whole_when_the_cap_allows() -> None:
    body = gzip.decompress((PATHOLOGICAL / "email_long_quote.txt.gz").read_bytes()).decode()
    assert max(len(line) for line in body.splitlines()) > 700_000
    msg = read_message(raw_message(body), reply_address=REPLY_ADDRESS, max_body_bytes=2_000_000)
    assert msg.truncated is False
    assert msg.reply == (
        "Hi folks\n\nWhat is the best way to clear a Riak bucket of all key, values after\n"
        "running a test?"
    )


def test_a_body_over_the_cap_is_cut_and_still_read() -> None:
    body = "decline no vacancy: full\n\n" + ("padding line\n" * 50_000)
    msg = read_message(raw_message(body), reply_address=REPLY_ADDRESS, max_body_bytes=10_000)
    assert msg.truncated is True
    assert msg.command is not None
    assert (msg.command.verb, msg.command.reason) == ("decline", "no vacancy")
    assert msg.command.comment.startswith("full\npadding line")
    assert len(msg.reply.encode()) <= 10_000


def test_a_raw_message_far_over_the_cap_is_cut_before_parsing() -> None:
    raw = raw_message("accept\n" + "x" * 3_000_000)
    msg = read_message(raw, reply_address=REPLY_ADDRESS, max_body_bytes=100_000)
    assert msg.truncated is True
    assert msg.command is not None and msg.command.verb == "accept"


def test_adversarial_lines_read_without_error() -> None:
    lines = [
        "On " * 50_000 + "wrote",
        "From: " * 50_000,
        ">" * 300_000 + "x",
        "-" * 300_000,
        "Sent from my " + "phone " * 50_000,
        "<" * 100_000 + "@" + ">" * 100_000 + ":",
    ]
    body = "accept\n\n" + "\n".join(lines)
    msg = read_message(raw_message(body), reply_address=REPLY_ADDRESS, max_body_bytes=4_000_000)
    assert msg.truncated is False
    assert msg.command is not None and msg.command.verb == "accept"
    assert msg.reply.startswith("accept\n\nOn On On")


def test_html_built_to_nest_deeply_reads_without_error() -> None:
    html = "<div>accept</div>" + "<blockquote>" * 20_000 + "old" + "</blockquote>" * 20_000
    raw = raw_message(html, content_type='text/html; charset="utf-8"')
    msg = read_message(raw, reply_address=REPLY_ADDRESS)
    assert msg.reply == "accept"


def test_the_time_limit_is_enforced() -> None:
    body = "accept\n" + "line\n" * 10_000
    msg = read_message(
        raw_message(body), reply_address=REPLY_ADDRESS, time_limit=-1.0
    )  # already past
    assert msg.command is None
    assert msg.reply == ""
    assert msg.error == MSG_TOO_SLOW
    assert msg.kind == "reply"
