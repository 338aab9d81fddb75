"""Read the command a person typed at the top of an email reply (accept, decline REASON, ...)."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, replace

from bot.commands import (
    AddNote,
    Assign,
    Close,
    MarkPending,
    Republish,
    Respond,
    SetStatus,
    WorkCommand,
    example,
    parse,
)
from bot.domain.vocab import (
    DeclineReason,
    NeedOutcome,
    ProvisionReason,
    ServiceStatus,
    leading_choice,
)
from bot.errors import InvalidInput


@dataclass(frozen=True)
class ParsedCommand:
    """One command read from a reply; `reason`, `argument` and `comment` depend on the verb."""

    verb: str
    reason: str | None
    argument: str | None
    comment: str
    # A referral number written right after the verb ("accept R-2026-000042"): needed when the
    # reply answers a digest, which lists several referrals.
    number: str | None = None


# The words a reply may start with, and the verb each names; several name the same verb.
VERB_WORDS: tuple[tuple[str, str], ...] = (
    ("accept", "accept"),
    ("accepted", "accept"),
    ("yes", "accept"),
    ("tentative", "tentative"),
    ("provision", "tentative"),
    ("decline", "decline"),
    ("declined", "decline"),
    ("no", "decline"),
    ("assign", "assign"),
    ("reassign", "reassign"),
    ("status", "status"),
    ("note", "note"),
    ("pending", "pending"),
    ("close", "close"),
    ("closed", "close"),
    ("republish", "republish"),
    ("capacity", "capacity"),
)

# Shorter prefixes of a verb are ordinary words at the start of a sentence ("a", "no", "as");
# "not" opens a negative sentence far more often than it abbreviates "note".
MIN_VERB_PREFIX = 3
NOT_VERB_PREFIXES = frozenset({"not"})

GREETINGS = (
    "hi",
    "hello",
    "hey",
    "dear",
    "good morning",
    "good afternoon",
    "good evening",
    "greetings",
    "hallo",
    "bonjour",
    "hola",
)
MAX_GREETING_WORDS = 5

# Human-facing text: what we tell a sender whose reply we could not act on.
EXAMPLES = (
    "Start your reply with one of these lines: "
    + ", ".join(
        f'"{example(verb)}"'
        for verb in ("accept", "provision", "decline", "assign", "status", "note")
    )
    + "."
)
MSG_EMPTY = "Your reply had no text above the quoted message, so there was nothing to act on. "
MSG_NO_COMMAND = 'I could not read a command in the first line of your reply ("{line}"). '
MSG_NEEDS_REASON = 'I read "{word}" ({verb}) but no {field} after it. Choose one of: {choices}. '
MSG_BAD_REASON = 'I read "{word}" ({verb}) but not the {field} after it: {problem} '
MSG_NEEDS_PERSON = 'I read "assign" but not who to assign. Write "assign" and an email address.'
MSG_NEEDS_NOTE = 'I read "note" but no text for the note. Write "note" and the text.'
MSG_AMBIGUOUS_VERB = 'I read "{word}" but it could be more than one command ({choices}). '

WORD = re.compile(r"\S+")
# A referral number right after the verb; the separator after it is optional.
NUMBER = re.compile(r"\s*[:,-]?\s*(R-\d{4}-\d{1,9})\b[.:,]?", re.IGNORECASE)

# Quoted back to the sender: keep the excerpt short enough to read in one glance.
QUOTE_LIMIT = 80

REASON_CHOICES: dict[str, tuple[type[enum.StrEnum], str]] = {
    "tentative": (ProvisionReason, "provision"),
    "decline": (DeclineReason, "decline reason"),
    "status": (ServiceStatus, "service status"),
    "close": (NeedOutcome, "need outcome"),
}


def parse_command(text: str) -> tuple[ParsedCommand | None, str | None]:
    """The command in the first meaningful line of `text`, or None and why, for the sender.

    A greeting ("Hi Dana,") may come first: its own line is skipped, and a command written after
    it on the same line ("Hi Dana, accept") is read.
    """
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    index = _next_text(lines, 0)
    if index is None:
        return None, MSG_EMPTY + EXAMPLES
    line = lines[index].strip()
    command, error = _parse_line(line, _following(lines, index))
    if command is not None or not _is_greeting(line):
        return command, error
    rest = _after_greeting(line)
    if rest:
        command, _ = _parse_line(rest, _following(lines, index))
        if command is not None:
            return command, None
    after = _next_text(lines, index + 1)
    if after is None:
        return None, error
    return _parse_line(lines[after].strip(), _following(lines, after))


def _following(lines: list[str], index: int) -> str:
    return "\n".join(lines[index + 1 :]).strip()


def _parse_line(line: str, following: str) -> tuple[ParsedCommand | None, str | None]:
    word, rest = _split_verb(line)
    verb, problem = _match_verb(word)
    if verb is None:
        return None, (problem or MSG_NO_COMMAND.format(line=_excerpt(line))) + EXAMPLES
    number = NUMBER.match(rest)
    if number is None:
        return _parse_verb(verb, word, rest, following)
    command, error = _parse_verb(verb, word, rest[number.end() :], following)
    if command is None:
        return None, error
    return replace(command, number=number.group(1).upper()), None


def _parse_verb(
    verb: str, word: str, rest: str, following: str
) -> tuple[ParsedCommand | None, str | None]:
    if verb == "accept":
        return ParsedCommand("accept", None, None, _comment(rest, following)), None
    if verb in ("pending", "republish"):
        return ParsedCommand(verb, None, None, _comment(rest, following)), None
    if verb == "capacity":
        # A program's, not a referral's: "capacity waitlist 12" (bot.domain.capacity reads it).
        return ParsedCommand(verb, None, rest.strip(" :-,"), ""), None
    if verb in ("assign", "reassign"):
        person = rest.strip(" :-,")
        if not person:
            return None, MSG_NEEDS_PERSON
        return ParsedCommand(verb, None, person, following), None
    if verb == "note":
        note = _comment(rest, following)
        if not note:
            return None, MSG_NEEDS_NOTE
        return ParsedCommand("note", None, note, ""), None
    return _parse_reasoned(verb, word, rest, following)


def _parse_reasoned(
    verb: str, word: str, rest: str, following: str
) -> tuple[ParsedCommand | None, str | None]:
    """The longest leading run of words that names exactly one reason; the rest is comment."""
    choices, field = REASON_CHOICES[verb]
    rest = rest.strip().lstrip(":-,.;").strip()
    # No reason or status contains a colon or comma, so either one ends the reason.
    cut = min((i for i in (rest.find(":"), rest.find(",")) if i >= 0), default=len(rest))
    spans = [m.span() for m in WORD.finditer(rest, 0, cut)]
    words = [rest[a:b] for a, b in spans]
    if not words:
        listing = ", ".join(c.value for c in choices)
        message = MSG_NEEDS_REASON.format(
            word=word.lower(), verb=verb, field=field, choices=listing
        )
        return None, message + EXAMPLES
    try:
        reason, count = leading_choice(words, choices, field=field)
    except InvalidInput as exc:
        message = MSG_BAD_REASON.format(word=word.lower(), verb=verb, field=field, problem=exc)
        return None, message + EXAMPLES
    remainder = rest[spans[count - 1][1] :].strip().lstrip(":-,").strip()
    return ParsedCommand(verb, reason.value, None, _comment(remainder, following)), None


def work_command(parsed: ParsedCommand, number: str) -> WorkCommand:
    """The work verb a reply's command names, on the referral `number`."""
    verb = parsed.verb
    comment = parsed.comment or None
    if verb in ("accept", "tentative", "decline"):
        said = {"number": number, "kind": verb, "reason": parsed.reason, "comment": comment}
        return parse(Respond, said)
    if verb in ("assign", "reassign"):
        who = {"number": number, "provider": parsed.argument, "reassign": verb == "reassign"}
        return parse(Assign, who)
    if verb == "status":
        return parse(SetStatus, {"number": number, "status": parsed.reason})
    if verb == "note":
        return parse(AddNote, {"number": number, "text": parsed.argument or ""})
    if verb == "close":
        return parse(Close, {"number": number, "outcome": parsed.reason, "reason": comment})
    if verb == "pending":
        return parse(MarkPending, {"number": number})
    if verb == "republish":
        return parse(Republish, {"number": number})
    raise AssertionError(f"no work verb for the email command {verb!r}")


def _split_verb(line: str) -> tuple[str, str]:
    """The first word (up to a space, colon or comma) and what follows it."""
    for index, ch in enumerate(line):
        if ch in " \t:,.!;-":
            return line[:index], line[index:]
    return line, ""


def _match_verb(word: str) -> tuple[str | None, str | None]:
    """The verb `word` names, exactly or as an unambiguous prefix; or None and a problem."""
    bare = word.lower()
    exact = [verb for name, verb in VERB_WORDS if name == bare]
    if exact:
        return exact[0], None
    if len(bare) < MIN_VERB_PREFIX or bare in NOT_VERB_PREFIXES:
        return None, None
    verbs = sorted({verb for name, verb in VERB_WORDS if name.startswith(bare)})
    if len(verbs) == 1:
        return verbs[0], None
    if verbs:
        return None, MSG_AMBIGUOUS_VERB.format(word=bare, choices=", ".join(verbs))
    return None, None


def _is_greeting(line: str) -> bool:
    """A salutation: "Hi Dana,", "Good morning!", or a bare name ending in a comma ("Dana,")."""
    lowered = line.lower()
    if any(lowered == g or lowered.startswith((f"{g} ", f"{g},", f"{g}!")) for g in GREETINGS):
        return True
    return lowered.endswith(",") and len(lowered.split()) <= MAX_GREETING_WORDS - 2


def _after_greeting(line: str) -> str:
    """A command written on the greeting's line: "Hi Dana, accept" reads as "accept"."""
    for mark in (",", "!", " - ", ":"):
        head, found, tail = line.partition(mark)
        if found and len(head.split()) <= MAX_GREETING_WORDS and tail.strip():
            return tail.strip()
    return ""


def _comment(rest: str, following: str) -> str:
    first = rest.strip().lstrip(":-,.!;").strip()
    return "\n".join(part for part in (first, following) if part).strip()


def _next_text(lines: list[str], start: int) -> int | None:
    for index in range(start, len(lines)):
        if lines[index].strip():
            return index
    return None


def _excerpt(line: str) -> str:
    return line if len(line) <= QUOTE_LIMIT else line[: QUOTE_LIMIT - 1] + "…"
