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

E = TypeVar("E", ProvisionReason, DeclineReason)

# The decision is at the top: two paragraphs of this many characters are plenty to find it.
MAX_DECISION_CHARS = 600
MAX_PARAGRAPHS = 2
# More readings than this is not a question a person answers by number.
MAX_CHOICES = 3

ACCEPT = "accept"
TENTATIVE = "tentative"
DECLINE = "decline"

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

_W = r"[\w'-]+"  # one word, apostrophes and hyphens included ("can't", "pre-placement")
_GAP = rf"(?:{_W} ){{0,2}}"  # up to two words between the parts of a phrase


def _rx(*alternatives: str) -> re.Pattern[str]:
    return re.compile(r"(?<![\w'])(?:" + "|".join(alternatives) + r")(?![\w'])")


# Refusals. Written accent-folded: "plätze" is matched as "platze", "no podrá" as "no podra".
_SPACE = (
    r"(?:vacanc(?:y|ies)|beds?|space|room|openings?|places?|spots?|slots?|capacity|availability"
    r"|plazas?|camas?|cupos?|vacantes?|lugar(?:es)?|espacio|disponibilidad"
    r"|platz|platze|betten?|kapazitat(?:en)?)"
)
DECLINE_CUES = _rx(
    r"^declin(?:e|ed|ing)",
    rf"(?:we|i|we're|we are|i'm|i am|we'll|i'll) {_GAP}declin(?:e|ed|ing)",
    r"(?:must|have to|need to|will have to|'ll have to|has to) (?:decline|pass)",
    r"(?:can ?not|can't|cant|unable to|not able to|won't be able to|will not be able to"
    rf"|are not able to|aren't able to|not in a position to) {_GAP}(?:accept|take|serve|admit"
    r"|support|meet|place|offer)",
    rf"no {_GAP}{_SPACE}",
    rf"(?:don't|do not|doesn't|does not|didn't) have {_GAP}{_SPACE}",
    r"(?:we're|we are|we're currently|we are currently|currently) (?:at capacity|full)",
    r"at (?:full )?capacity",
    r"fully booked",
    r"not a (?:good )?fit",
    r"(?:not|n't) (?:currently )?(?:accepting|taking)",
    r"pass on this",
    # Spanish
    rf"no (?:tenemos|hay|contamos con|disponemos de) {_GAP}{_SPACE}",
    rf"no (?:podemos|podremos|es posible) {_GAP}(?:aceptar|recibir|tomar|atender|admitir)",
    r"(?:rechazamos|rechazar|declinamos|declinar)",
    r"(?:estamos|esta) (?:llenos?|completos?)",
    rf"sin {_SPACE}",
    # German
    rf"keine?[nrs]? {_GAP}{_SPACE}",
    rf"(?:nicht|kein) {_GAP}(?:aufnehmen|annehmen|ubernehmen|versorgen)",
    rf"(?:mussen|muss) {_GAP}{_GAP}ablehnen",
    rf"lehnen {_GAP}{_GAP}ab",
    r"absage|ausgebucht|voll belegt|sind voll",
)
# A refusal or a yes about someone else ("the family declined", "she accepted a place
# elsewhere", "they can't take the bed") is not the program's decision.
THIRD_PERSON = frozenset(
    {
        "they",
        "he",
        "she",
        "it",
        "who",
        "family",
        "parents",
        "parent",
        "mom",
        "mother",
        "dad",
        "father",
        "guardian",
        "client",
        "hospital",
        "school",
        "el",
        "ella",
        "ellos",
        "ellas",
        "familia",
        "padres",
        "madre",
        "padre",
        "er",
        "familie",
        "eltern",
        "mutter",
        "vater",
    }
)

# A plain "No." / "No, sorry" / "Nein." at the very start refuses too.
LEADING_NO = re.compile(
    r"^[¡¿]?(?:no|nope|nein|leider nein|lo siento,? no)"
    r"(?:[,.!;:]|$| (?:sorry|thanks|thank you|lo siento|gracias|danke|leider|unfortunately)\b)"
)

ACCEPT_CUES = _rx(
    r"^accept(?:ed)?",
    r"(?:we|i) (?:gladly |happily |hereby |will |can |'ll |would )?accept",
    rf"(?:we|i) (?:can|could|will|would|'ll|are able to|am able to) {_GAP}accept",
    r"^(?:happy|glad|pleased) to (?:take|accept)",
    rf"(?:we|i) (?:can|could|will|would|'ll|are able to|am able to) {_GAP}take",
    r"(?:we|i) (?:are|'re|am|'m) (?:happy|glad|pleased|able) to (?:take|accept|offer|admit)",
    r"(?:we|i) (?:have|'ve got|have got) (?:a |an |one )?(?:bed|place|spot|space|opening|room)"
    r" (?:for|available)",
    r"(?:count us in|we'll take|we will take|we can take|we can do it)",
    # Spanish
    r"aceptamos|acepto|aceptada|aceptado|aceptar",
    r"(?:podemos|puedo) (?:\w+ )?(?:recibir|tomar|atender|admitir)(?:lo|la|los|las)?",
    r"(?:lo|la|los|las) (?:recibimos|tomamos|atendemos|admitimos)",
    rf"(?:tenemos|hay) (?:una |un )?{_SPACE} (?:para|disponible)",
    # German
    r"akzeptier(?:en|t)|angenommen|zusage|sagen (?:\w+ )?zu",
    rf"(?:konnen|werden|wurden) (?:{_W} ){{0,4}}(?:gerne? )?(?:aufnehmen|annehmen|ubernehmen)",
    rf"nehmen {_GAP}(?:gerne? )?(?:auf|an)(?= |[.,!;]|$)",
    r"(?:nehmen|ubernehmen) (?:ihn|sie|es|den fall)",
)
# "Yes" and its equivalents as the first word; "si" without an accent only before punctuation,
# because "si ..." is also Spanish for "if".
LEADING_YES = re.compile(
    r"^[¡¿]?(?:yes|yep|yeah|sure|absolutely|definitely|ja|jawohl|gerne|si|claro|por supuesto)"
    r"(?=[,.!;:]|$| (?:we|i|but|only|if|pending|please|thanks|thank|gracias|danke|bitte"
    r"|aber|nur|wenn|falls|pero|solo|siempre)\b)"
)
SPANISH_YES = re.compile(r"^sí\b")

# A condition turns a yes into a tentative accept.
STRONG_CONDITIONS = _rx(
    r"if|only|provided|providing|pending|once|as soon as|subject to|assuming|contingent"
    r"|depending on|as long as|conditional|tentative(?:ly)?|provisional(?:ly)?",
    r"si|siempre que|siempre y cuando|pendiente|una vez que|sujeto a|solo|solamente|condicion\w*",
    r"wenn|falls|sofern|vorbehalt\w*|vorausgesetzt|erst|sobald|unter der bedingung",
)
# These name a condition only right before what is pending ("after the visit", "until a bed
# opens"): "We can take her after lunch" is a plain accept.
WEAK_CONDITION = _rx(r"after|until|when|despues de|cuando|hasta|nach|bis|first|primero|zuerst")
# "Let me know if you need anything" sets no condition on the answer.
NOT_CONDITIONS = _rx(
    r"let (?:me|us) know if|if (?:you|there) (?:have|need|are)|if needed|if necessary"
    r"|if possible|if you'd like|if any",
    r"si (?:tiene|necesita|hay) (?:alguna |cualquier )?(?:pregunta|duda)\w*",
    r"(?:wenn|falls) sie (?:fragen|noch fragen)|bei fragen",
)

PROVISION_TOPICS: tuple[tuple[ProvisionReason, re.Pattern[str]], ...] = (
    (
        ProvisionReason.PRE_PLACEMENT_VISIT,
        _rx(
            r"visit(?:s|ed|ing)?|tour|pre-?placement|meet(?:ing)? (?:him|her|them|the \w+)",
            r"interview|visita|visitar|entrevista|besuch\w*|kennenlern\w*|hospitation|probewohnen",
        ),
    ),
    (
        ProvisionReason.FUNDING,
        _rx(
            r"fund(?:s|ing|ed)?|insurance|medicaid|medicare|waiver|authori[sz]ation|payer",
            r"financiacion|financiamiento|fondos|seguro|finanzierung|kostenubernahme"
            r"|kostenzusage|kostentrager|bewilligung",
        ),
    ),
    (
        ProvisionReason.STAFFING,
        _rx(r"staff(?:ing|ed)?|hire|hiring|personnel|personal(?! care)|personalmangel"),
    ),
    (
        ProvisionReason.VACANCY,
        _rx(rf"{_SPACE}|bed opens|frees up|opens up|wird frei|se libera|quede libre"),
    ),
)

DECLINE_TOPICS: tuple[tuple[DeclineReason, re.Pattern[str]], ...] = (
    (
        DeclineReason.NO_VACANCY,
        _rx(
            _SPACE,
            r"full|fully booked|waiting list|wait ?list|waitlist",
            r"llenos?|completos?|lista de espera",
            r"voll|belegt|ausgebucht|warteliste",
        ),
    ),
    (
        DeclineReason.MEDICAL,
        _rx(
            r"medical(?:ly)?|nurs(?:e|es|ing)|medication|diabet\w*|oxygen|g-tube|feeding tube",
            r"medic[oa]s?|enfermer\w*|medizin\w*|pflege\w*|arztlich\w*",
        ),
    ),
    (
        DeclineReason.BEHAVIOURAL,
        _rx(r"behaviou?r\w*|aggress\w*|violen\w*|conducta|comportamiento|verhalten\w*"),
    ),
    (
        DeclineReason.LOCATION,
        _rx(
            r"too far|location|distance|outside (?:of )?our (?:area|county|region|service area)",
            r"(?:don't|do not) serve|lejos|ubicacion|distancia|zu weit|entfernung|einzugsgebiet",
        ),
    ),
    (
        DeclineReason.FUNDING,
        _rx(
            r"fund(?:s|ing|ed)?|insurance|medicaid|medicare|payer|payment|authori[sz]ation",
            r"financiacion|fondos|seguro|finanzierung|kostenubernahme|kostentrager|versicherung",
        ),
    ),
    (
        DeclineReason.STAFFING,
        _rx(r"staff(?:ing|ed)?|short-staffed|personnel|falta de personal|personalmangel"),
    ),
)

GREETING = re.compile(
    r"^(?:hi|hello|hey|dear|good (?:morning|afternoon|evening)|greetings|hola|buenos dias"
    r"|buenas(?: tardes| noches)?|estimad[oa]s?|querid[oa]s?|hallo|guten (?:tag|morgen|abend)"
    r"|liebe[rs]?|sehr geehrte[rs]?|moin|servus)\b"
)
# "Thanks for the referral." on its own line says nothing about the decision.
PLEASANTRY = re.compile(
    r"^(?:thanks|thank you|many thanks|gracias|muchas gracias|danke|vielen dank)\b[^.!?]{0,60}"
    r"[.!]?$"
)
# A lone number answers our question ("1", "2.", "Option 2", "#1 please").
CHOICE = re.compile(
    r"^(?:option|opcion|opción|nummer|number|nr\.?|no\.?|#)? ?#?([1-9])(?:[.):!]| ?$"
    r"| ?[-–—,] | (?:please|thanks|thank you|por favor|gracias|bitte|danke)\b)"
)
# A line that is nothing but a command word: its reason may follow on the next line.
BARE_VERBS = {
    "decline": DECLINE,
    "declined": DECLINE,
    "no": DECLINE,
    "tentative": TENTATIVE,
    "provision": TENTATIVE,
    "accept": ACCEPT,
    "accepted": ACCEPT,
    "yes": ACCEPT,
}


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
