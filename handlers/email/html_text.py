"""An HTML body as plain text, block by block, in bounded time."""

from __future__ import annotations

import time
from html.parser import HTMLParser

from handlers.email.quotes import ReadTimeout

# Elements that never carry reply text.
HTML_SKIP = frozenset({"head", "style", "script", "title", "template", "xml"})
HTML_BLOCKS = frozenset(
    {
        "p",
        "div",
        "section",
        "article",
        "header",
        "footer",
        "table",
        "tr",
        "ul",
        "ol",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "pre",
        "address",
        "center",
    }
)
HTML_RULE = "_" * 32  # an <hr> reads like Outlook's separator line


class _HtmlText(HTMLParser):
    """HTML to plain lines, with blockquotes turned into "> " lines so quote stripping sees them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self._current: list[str] = []
        self._depth = 0
        self._skip = 0
        self._pre = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in HTML_SKIP:
            self._skip += 1
        elif tag == "br":
            self._flush(force=True)
        elif tag == "hr":
            self._flush(force=False)
            self._emit(HTML_RULE)
        elif tag == "blockquote":
            self._flush(force=False)
            self._depth += 1
        elif tag == "li":
            self._flush(force=False)
            self._current.append("- ")
        elif tag in HTML_BLOCKS:
            self._flush(force=False)
            if tag == "pre":
                self._pre += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("br", "hr"):
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in HTML_SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag == "blockquote":
            self._flush(force=False)
            self._depth = max(0, self._depth - 1)
        elif tag in HTML_BLOCKS or tag in ("li", "td", "th"):
            self._flush(force=False)
            if tag == "pre":
                self._pre = max(0, self._pre - 1)

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._pre:
            head, *rest = data.split("\n")
            self._current.append(head)
            for line in rest:
                self._flush(force=True)
                self._current.append(line)
            return
        text = " ".join(data.replace("\xa0", " ").split())
        if not text:
            if data and self._current:
                self._current.append(" ")
            return
        if data[:1].isspace() and self._current:
            text = " " + text
        if data[-1:].isspace():
            text += " "
        self._current.append(text)

    def close(self) -> None:
        super().close()
        self._flush(force=False)

    def _flush(self, *, force: bool) -> None:
        line = "".join(self._current)
        line = line.rstrip() if self._pre else line.strip()
        self._current = []
        if line or force:
            self._emit(line)

    def _emit(self, line: str) -> None:
        prefix = "> " * self._depth
        self.lines.append(f"{prefix}{line}".rstrip())


def html_to_text(html: str, *, deadline: float | None = None) -> str:
    """Plain text of an HTML body; quoted blocks come out as "> " lines."""
    parser = _HtmlText()
    chunk = 64 * 1024
    for start in range(0, len(html), chunk):
        if deadline is not None and time.monotonic() > deadline:
            raise ReadTimeout
        parser.feed(html[start : start + chunk])
    parser.close()
    return "\n".join(parser.lines)
