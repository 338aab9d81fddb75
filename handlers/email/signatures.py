"""Where a reply's signature begins: a rule, a mobile line, a notice or a sign-off."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from handlers.email.body_lines import (
    DEADLINE_STRIDE,
    MAX_PATTERN_LINE,
    check_deadline,
    first_text_index,
)
from handlers.email.notices import DISCLAIMER_FRAME, DISCLAIMER_STARTS, is_disclaimer
from handlers.email.sign_offs import (
    drop_closing_block,
    drop_lone_first_name,
    is_contact,
    is_sign_off,
)

# A name or valediction only starts a signature when this few lines (or fewer) follow it.
SIGNATURE_TAIL = 7

# One alternative per client family; every repetition is separated by a literal space, so no
# two quantifiers compete for the same characters and matching stays linear in the line length.
MOBILE_SIGNATURE = re.compile(
    r"(?:sent from my \w+(?: \w+){0,3}"
    r"|sent from (?:mail|outlook|yahoo mail|gmail|samsung|my mobile|proton mail)\b.*"
    r"|sent (?:with|via) \w+(?: \w+){0,2}"
    r"|sent from [^<\s]+ ?<https?://[^>\s]*>"
    r"|envoyé à partir de \w+(?: \w+){0,3}(?: ?<https?://[^>\s]*>)?"
    r"|get outlook for (?:ios|android)\b.*"
    r"|von meinem \w+(?: \w+){0,3} gesendet"
    r"|gesendet (?:von|mit) \w+(?: \w+){0,3}(?: ?<https?://[^>\s]*>)?"
    r"|envoyé de mon \w+(?: \w+){0,3}"
    r"|enviado desde mi \w+(?: \w+){0,3}"
    r"|enviado do meu \w+(?: \w+){0,3}"
    r"|inviato da(?:l mio)? \w+(?: \w+){0,3}"
    r"|verzonden (?:vanaf|met) (?:mijn )?\w+(?: \w+){0,3}"
    r"|skickat från min \w+(?: \w+){0,3}"
    r"|sendt fra min \w+(?: \w+){0,3}"
    r"|wysłane z mojego \w+(?: \w+){0,3}"
    r"|отправлено с \w+(?: \w+){0,3})[.!]?",
    re.IGNORECASE,
)

# The first letters of MOBILE_SIGNATURE's lines ("sent …", "envoyé …", "get …", "von …", …).
MOBILE_INITIALS = frozenset("segviwо")
MOBILE_FIRST_PAIRS = frozenset({"se", "en", "ge", "vo", "in", "ve", "sk", "wy", "от"})
# A line that ends the reply by itself starts with a frame or rule character, or with the
# first two letters of a mobile line or a notice; any other line is passed over at once.
CUT_FIRST_CHARS = frozenset(DISCLAIMER_FRAME.strip() + "—")
CUT_FIRST_PAIRS = MOBILE_FIRST_PAIRS | frozenset(start[:2] for start in DISCLAIMER_STARTS)


def strip_signature(
    lines: Sequence[str], sender_names: Iterable[str], deadline: float | None
) -> list[str]:
    names = {n.strip().lower() for n in sender_names if n and n.strip()}
    first = first_text_index(lines)
    if first is None:
        return []
    # A separator, a mobile line or a notice ends the reply wherever it is; a sign-off only
    # where few lines follow it, so only the lines from `window` on can be one.
    cut = _first_cut(lines, first, deadline)
    window = _short_tail_from(lines, first, cut)
    for index in range(window, cut):
        line = lines[index]
        if not line:
            continue
        if _is_signature_rule(lines, index):
            return list(lines[:index])  # a row of hyphens set apart over a short signature
        if len(line) > MAX_PATTERN_LINE or index == first:
            continue
        if is_sign_off(line.strip(), names):
            kept = list(lines[:index])
            # a team line right above may head the signature: "ENA Human Resources / Julie K."
            return drop_closing_block(kept, first) if lines[index - 1].strip() else kept
    if cut < len(lines):
        return list(lines[:cut])
    if MOBILE_SIGNATURE.fullmatch(lines[first].strip()) and len(lines[first]) <= MAX_PATTERN_LINE:
        return []
    return drop_closing_block(drop_lone_first_name(list(lines), first), first)


def _first_cut(lines: Sequence[str], first: int, deadline: float | None) -> int:
    """The first line from `first` on that ends the reply by itself: "-- ", a rule of em dashes,
    a mobile client's line or a legal notice (len(lines) when there is none)."""
    for index in range(first, len(lines)):
        if deadline is not None and index % DEADLINE_STRIDE == 0:
            check_deadline(deadline, index)
        line = lines[index]
        if not line:
            continue
        bare = line.strip() if line[0].isspace() else line
        if not bare:
            continue
        if bare[0] in CUT_FIRST_CHARS:  # "--", a rule of em dashes, a framed notice
            if line in ("-- ", "--") or not bare.strip("—"):
                return index
        elif bare[:2].lower() not in CUT_FIRST_PAIRS:
            continue  # most lines: no mobile line or notice starts this way
        if index == first or len(line) > MAX_PATTERN_LINE:
            continue
        if bare[:1].lower() in MOBILE_INITIALS and MOBILE_SIGNATURE.fullmatch(bare):
            return index
        if is_disclaimer(bare):
            return index
    return len(lines)


def _short_tail_from(lines: Sequence[str], first: int, cut: int) -> int:
    """The first index in [first, cut] from which on every line up to `cut` has a short tail:
    few short lines follow it (see _tail_count), so it may start a signature. A tail only grows
    the higher the line. Above `cut` there is no notice, so each tail runs past `cut` to the
    first notice at or after it."""
    count, failed = _tail_count(lines, cut)
    window = cut
    for index in range(cut - 1, first - 1, -1):
        if failed or count > SIGNATURE_TAIL:
            break
        window = index
        line = lines[index]
        bare = line.strip()
        if bare and not is_contact(bare):
            count += 1
            failed = len(line) > 80
    return window


def _tail_count(lines: Sequence[str], begin: int) -> tuple[int, bool]:
    """The lines of a signature's tail from `begin` on, and whether the tail is already too long.

    At most SIGNATURE_TAIL lines of 80 characters or less make a short tail: a long message
    under a "Thanks" is not a signature. Blank lines and contact lines (phone, email, web) are
    not counted, and the tail ends at a legal notice, which is cut as well ("Thanks, / Dana /
    Intake / CONFIDENTIALITY NOTICE: ...")."""
    count = 0
    for index in range(begin, len(lines)):
        line = lines[index]
        bare = line.strip()
        if not bare:
            continue
        if len(line) <= MAX_PATTERN_LINE and is_disclaimer(bare):
            break
        if is_contact(bare):
            continue
        count += 1
        if count > SIGNATURE_TAIL or len(line) > 80:
            return count, True
    return count, False


def _is_signature_rule(lines: Sequence[str], index: int) -> bool:
    """A long row of hyphens with a blank line above it (a heading's underline has none). Not
    the body's first line: nothing is above it to be the reply."""
    bare = lines[index].strip()
    return index > 0 and len(bare) >= 8 and not bare.strip("-") and not lines[index - 1].strip()
