"""An email body as lines: normalising, the reading deadline, tests every pass shares."""

from __future__ import annotations

import re
import time
from collections.abc import Sequence

# Header and signature patterns are only tried on lines up to this length. The public corpora
# carry single lines of 700 KB built to make regular expressions backtrack; a real attribution
# or signature line is never that long, so skipping long lines keeps every pass linear.
MAX_PATTERN_LINE = 400

# Checked every this many lines against the deadline: cheap enough, fine enough.
DEADLINE_STRIDE = 512

RULE_CHARS = "-_=—*~"

DIGIT = re.compile(r"\d")

INVISIBLE_CHARS = "\u200b\u200c\u200d\u2060\ufeff\u00ad"
INVISIBLE = dict.fromkeys(map(ord, INVISIBLE_CHARS), None)


class ReadTimeout(Exception):
    """The time allowed for reading one message ran out."""


def normalise(text: str) -> list[str]:
    # `in` is a fast scan, and most bodies need none of these rewrites
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "\xa0" in text:
        text = text.replace("\xa0", " ")
    if any(ch in text for ch in INVISIBLE_CHARS):  # translate is not a fast scan
        text = text.translate(INVISIBLE)
    return [line.rstrip() for line in text.split("\n")]


def check_deadline(deadline: float | None, index: int) -> None:
    if deadline is not None and index % DEADLINE_STRIDE == 0 and time.monotonic() > deadline:
        raise ReadTimeout


def first_text_index(lines: Sequence[str]) -> int | None:
    for index, line in enumerate(lines):
        if line.strip():
            return index
    return None


def only_salutation(lines: Sequence[str]) -> bool:
    text: list[str] = []
    for line in lines:
        if line.strip():
            text.append(line.strip())
            if len(text) > 1:
                return False
    return len(text) == 1 and len(text[0].split()) <= 4 and text[0].endswith((",", "!", ":"))


def has_text(lines: Sequence[str]) -> bool:
    return any(line.strip() for line in lines)


def join_lines(lines: Sequence[str]) -> str:
    end = len(lines)
    # A rule line left above the cut belonged to the history ("-----" over "From:").
    while end and not lines[end - 1].strip(RULE_CHARS + " "):
        end -= 1
    return "\n".join(lines[:end]).strip("\n").strip()
