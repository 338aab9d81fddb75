"""Read a decision written as a sentence ("We can take him", "No vacancy until June"), or say
that it could be read more than one way, so the sender is asked rather than guessed for.

`parse_command` reads commands ("accept", "decline no vacancy: ..."). People also answer in
their own words, in English, Spanish and German. This module reads those words into the same
`ParsedCommand`, in three outcomes: one reading (a command), several readings (`choices`: the
sender is asked "Reply 1 or 2"), or none (the command reader's own error stands).

Every pattern runs on at most `MAX_DECISION_CHARS` characters of accent-folded, lower-cased
text, and no pattern nests quantifiers, so reading stays linear and bounded.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from typing import TypeVar

from bot.domain.vocab import DeclineReason, ProvisionReason
from handlers.email.commands import MSG_NO_COMMAND, ParsedCommand
from handlers.email.decision_cues import (
    ACCEPT,
    ACCEPT_CUES,
    BARE_VERBS,
    CHOICE,
    DECLINE,
    DECLINE_CUES,
    DECLINE_TOPICS,
    GREETING,
    LEADING_NO,
    LEADING_YES,
    NOT_CONDITIONS,
    PLEASANTRY,
    PROVISION_TOPICS,
    SPANISH_YES,
    STRONG_CONDITIONS,
    TENTATIVE,
    THIRD_PERSON,
    WEAK_CONDITION,
)

E = TypeVar("E", ProvisionReason, DeclineReason)

# The decision is at the top: two paragraphs of this many characters are plenty to find it.
MAX_DECISION_CHARS = 600
MAX_PARAGRAPHS = 2
# More readings than this is not a question a person answers by number.
MAX_CHOICES = 3

# How a reading is named in the question we send back ("Did you mean ... ?").
LABELS = {
    ACCEPT: "accept",
    TENTATIVE: "tentatively accept {reason}",
    DECLINE: "decline ({reason})",
}
MSG_ASK = "Did you mean {options}? Reply {numbers}."
MSG_DECLINE_NO_REASON = (
    "I read a decline but not its reason. Reply with the reason, for example "
    '"decline no vacancy" or "decline funding: waiting on the county".'
)


@dataclass(frozen=True)
class Reading:
    """What the words say: one command, several possible commands, or nothing (with why)."""

    command: ParsedCommand | None = None
    choices: tuple[ParsedCommand, ...] = ()
    error: str | None = None


def fold(text: str) -> str:
    """Lower-case, accents and curly quotes folded, whitespace collapsed: what patterns see."""
    text = text.replace("’", "'").replace("‘", "'").lower()
    decomposed = unicodedata.normalize("NFKD", text)
    return " ".join("".join(ch for ch in decomposed if not unicodedata.combining(ch)).split())


def understand(reply: str, command: ParsedCommand | None, error: str | None) -> Reading:
    """The decision in `reply`, given what the command reader made of it.

    A command stands, except a bare yes/accept whose own line adds a condition ("Yes, but only
    after the visit"): that is a tentative accept. Without a command, the words are read.
    """
    body = _after_greeting(reply)
    lines = _decision_lines(body)
    if not lines:
        return Reading(command, (), error)
    if command is not None:
        if command.verb != ACCEPT:
            return Reading(command)
        # "accept R-2026-000042 if funding is approved", answering a digest: keep the number.
        refined = _refine_accept(command, lines, _comment(body))
        number = command.number
        return Reading(
            None if refined.command is None else replace(refined.command, number=number),
            tuple(replace(choice, number=number) for choice in refined.choices),
            refined.error,
        )
    reading = _read_words(lines, body)
    if reading.command is None and not reading.choices:
        # The command reader's own complaint ("busy" is not a decline reason) is the more
        # precise one, unless it found no command word at all.
        unread = error is None or error.startswith(MSG_NO_COMMAND.split("{", 1)[0])
        return Reading(None, (), (reading.error or error) if unread else error)
    return reading


def choice_number(reply: str) -> int | None:
    """The option picked when the whole reply is a number answering our question ("2")."""
    lines = _decision_lines(_after_greeting(reply))
    if not lines or len(lines) > 2:
        return None
    match = CHOICE.match(fold(lines[0]))
    return int(match.group(1)) if match else None


def question(choices: tuple[ParsedCommand, ...]) -> str:
    """ "Did you mean accept, or tentatively accept pending pre-placement visit? Reply 1 or 2."."""
    labels = [label(c) for c in choices]
    numbers = [str(n) for n in range(1, len(choices) + 1)]
    return MSG_ASK.format(
        options=", or ".join(labels),
        numbers=", ".join(numbers[:-1]) + " or " + numbers[-1],
    )


def label(command: ParsedCommand) -> str:
    """A reading as the sender would say it: "decline (no vacancy)"."""
    return LABELS.get(command.verb, command.verb).format(reason=command.reason or "")


# --- reading -------------------------------------------------------------------------------


def _after_greeting(reply: str) -> list[str]:
    """The reply's lines from the first one that is not a greeting or a lone "thanks"."""
    lines = [line.strip() for line in reply.replace("\r\n", "\n").split("\n")]
    for index, line in enumerate(lines):
        if line and not (_is_greeting(line) or PLEASANTRY.match(fold(line))):
            return lines[index:]
    return []


def _decision_lines(body: list[str]) -> list[str]:
    """The first paragraphs of the body, bounded: the decision is at the top."""
    lines: list[str] = []
    paragraphs = 0
    size = 0
    for line in body:
        if not line:
            paragraphs += 1
            if paragraphs >= MAX_PARAGRAPHS:
                break
            continue
        lines.append(line[:MAX_DECISION_CHARS])  # a 700 KB line is read no further than this
        size += len(line)
        if size >= MAX_DECISION_CHARS:
            break
    return lines


def _is_greeting(line: str) -> bool:
    folded = fold(line)
    if GREETING.match(folded):
        return len(folded.split()) <= 5 or folded.endswith((",", "!", ":"))
    return folded.endswith(",") and len(folded.split()) <= 3


def _refine_accept(command: ParsedCommand, lines: list[str], comment: str) -> Reading:
    """A yes with a condition on its own line is tentative; with a refusal too, it is a question."""
    first = fold(lines[0])[:MAX_DECISION_CHARS]
    if _ours(DECLINE_CUES, first):
        return _ask(_both_ways(first), comment)
    condition = _condition(first)
    if condition is not None:
        return _tentative(condition, comment)
    topics = _topics(_sentences_from(first, 0, count=1), PROVISION_TOPICS)
    if topics and not first.startswith("acc"):
        # "Yes, we would like to visit first": accepted, or pending the visit? Ask.
        tentative = [ParsedCommand(TENTATIVE, t.value, None, comment) for t in topics]
        return _ask([ParsedCommand(ACCEPT, None, None, comment), *tentative], comment)
    return Reading(command)


def _read_words(lines: list[str], body: list[str]) -> Reading:
    comment = _comment(body)
    bare = BARE_VERBS.get(fold(lines[0]).strip(" .!:;,-"))
    if bare in (DECLINE, TENTATIVE) and len(lines) > 1:
        # "Decline" / "Tentative" alone on a line, the reason on the next one.
        rest = fold(" ".join(lines[1:]))[:MAX_DECISION_CHARS]
        comment = _comment(body[1:])
        if bare == DECLINE:
            return _decline(rest, comment)
        return _tentative(rest, comment, always=True)
    text = fold(" ".join(lines))[:MAX_DECISION_CHARS]
    refusals = _ours(DECLINE_CUES, text)
    declines = bool(refusals or LEADING_NO.match(text))
    masked = _blank(text, [m.span() for m in DECLINE_CUES.finditer(text)])
    cue = next(iter(_ours(ACCEPT_CUES, masked)), None)
    leading_yes = LEADING_YES.match(text) or SPANISH_YES.match(lines[0].lower())
    if declines and (cue or leading_yes):
        return _ask(_both_ways(text), comment)
    if declines:
        return _decline(text, comment)
    if cue is None and not leading_yes:
        return Reading()
    # Read from the yes or the accepting phrase on. The yes word itself is left out: "sí"
    # folds to "si", which is Spanish for "if". (No refusal was found, so masked == text.)
    if leading_yes:
        masked, start = masked[leading_yes.end() :], 0
    else:
        start = cue.start() if cue is not None else 0
    condition = _condition(_sentences_from(masked, start))
    if condition is not None:
        return _tentative(condition, comment)
    topics = _topics(_sentences_from(masked, start, count=1), PROVISION_TOPICS)
    if topics:
        # "Yes, we would like to visit first": accepted, or pending the visit? Ask.
        tentative = [ParsedCommand(TENTATIVE, t.value, None, comment) for t in topics]
        return _ask([ParsedCommand(ACCEPT, None, None, comment), *tentative], comment)
    return Reading(ParsedCommand(ACCEPT, None, None, comment))


def _ours(pattern: re.Pattern[str], text: str) -> list[re.Match[str]]:
    """The matches that speak for the program: not right after "they", "the family", "she"..."""
    found = []
    for match in pattern.finditer(text):
        before = text[max(0, match.start() - 40) : match.start()].split()
        if not before or before[-1].strip(",.;:") not in THIRD_PERSON:
            found.append(match)
    return found


def _blank(text: str, spans: list[tuple[int, int]]) -> str:
    """`text` with the spans blanked out, positions unchanged."""
    chars = list(text)
    for start, end in spans:
        chars[start:end] = " " * (end - start)
    return "".join(chars)


def _sentences_from(text: str, start: int, *, count: int = 2) -> str:
    """The sentence holding position `start` and the one after it (`count` sentences)."""
    begin = max(text.rfind(mark, 0, start) for mark in ".!?;") + 1
    end = begin - 1
    for _ in range(count):
        stops = [i for i in (text.find(mark, end + 1) for mark in ".!?;") if i >= 0]
        end = min(stops, default=len(text))
    return text[begin : end + 1]


def _condition(text: str) -> str | None:
    """The text from the condition on, or None when the words set no condition."""
    text = NOT_CONDITIONS.sub(" ", text)
    found = [m.start() for m in (STRONG_CONDITIONS.search(text),) if m is not None]
    for weak in WEAK_CONDITION.finditer(text):
        if _topics(text[weak.end() :][:60], PROVISION_TOPICS):
            found.append(weak.start())
            break
    return text[min(found) :] if found else None


def _tentative(condition: str, comment: str, *, always: bool = False) -> Reading:
    topics = _topics(condition, PROVISION_TOPICS)
    if not topics:
        if not always and not condition.strip():
            return Reading()
        return Reading(ParsedCommand(TENTATIVE, ProvisionReason.OTHER.value, None, comment))
    return _ask([ParsedCommand(TENTATIVE, t.value, None, comment) for t in topics], comment)


def _decline(text: str, comment: str) -> Reading:
    topics = _topics(text, DECLINE_TOPICS)
    if not topics:
        return Reading(error=MSG_DECLINE_NO_REASON)
    return _ask([ParsedCommand(DECLINE, t.value, None, comment) for t in topics], comment)


def _both_ways(text: str) -> list[ParsedCommand]:
    """A reply that says yes and no: each decline reason, then the yes (pending a vacancy when
    the no was about space: "we can take him but have no bed until June")."""
    readings = [
        ParsedCommand(DECLINE, t.value, None, "") for t in _topics(text, DECLINE_TOPICS)
    ] or [ParsedCommand(DECLINE, DeclineReason.OTHER.value, None, "")]
    vacancy = DeclineReason.NO_VACANCY.value in {r.reason for r in readings}
    readings.append(
        ParsedCommand(TENTATIVE, ProvisionReason.VACANCY.value, None, "")
        if vacancy
        else ParsedCommand(ACCEPT, None, None, "")
    )
    return readings


def _ask(readings: list[ParsedCommand], comment: str) -> Reading:
    """One reading is the command; several are a question; the comment is the sender's words."""
    unique: list[ParsedCommand] = []
    for reading in readings:
        reading = replace(reading, comment=comment)
        if reading not in unique:
            unique.append(reading)
    if len(unique) == 1:
        return Reading(unique[0])
    return Reading(None, tuple(unique[:MAX_CHOICES]), question(tuple(unique[:MAX_CHOICES])))


def _topics(text: str, table: tuple[tuple[E, re.Pattern[str]], ...]) -> list[E]:
    return [reason for reason, pattern in table if pattern.search(text)]


def _comment(lines: list[str]) -> str:
    """The sender's own words, kept as the response's comment."""
    return "\n".join(lines).strip()
