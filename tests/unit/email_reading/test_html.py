"""HTML bodies become text whose quoted parts are "> " lines."""

from __future__ import annotations

from handlers.email.reading import html_to_text


def test_blocks_breaks_and_entities() -> None:
    html = (
        "<html><head><style>p {color: red}</style><title>t</title></head><body>"
        "<div>decline&nbsp;location&nbsp;&ndash; too far</div><div><br></div>"
        "<p>Call me &amp; the <b>family</b>.</p><ul><li>one</li><li>two</li></ul>"
        "<script>var x = 1;</script></body></html>"
    )
    assert html_to_text(html) == (
        "decline location – too far\n\nCall me & the family.\n- one\n- two"
    )


def test_blockquotes_are_quoted_lines_and_rules_are_separators() -> None:
    html = (
        "<div>accept</div><blockquote type='cite'><div>On Mar 3 wrote:</div>"
        "<blockquote>older</blockquote>text</blockquote><hr><div>From: x</div>"
    )
    assert html_to_text(html).split("\n") == [
        "accept",
        "> On Mar 3 wrote:",
        "> > older",
        "> text",
        "_" * 32,
        "From: x",
    ]


def test_preformatted_text_keeps_its_lines() -> None:
    assert html_to_text("<pre>a\n  b</pre>") == "a\n  b"
