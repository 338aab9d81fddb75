"""Cut an email body down to the newly written text: quoted history and signatures removed."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence

# Header and signature patterns are only tried on lines up to this length. The public corpora
# carry single lines of 700 KB built to make regular expressions backtrack; a real attribution
# or signature line is never that long, so skipping long lines keeps every pass linear.
MAX_PATTERN_LINE = 400

# How many lines may be joined when an attribution ("On ... wrote:") is wrapped by the client.
ATTRIBUTION_SPAN = 3

# A header block ("From: / Sent: / To: / Subject:") must show its second header this soon.
HEADER_BLOCK_SPAN = 5

# A name or valediction only starts a signature when this few lines (or fewer) follow it.
SIGNATURE_TAIL = 7

# A closing paragraph of this many lines or fewer may be a signature without a name we know.
SIGNATURE_BLOCK = 4

# Checked every this many lines against the deadline: cheap enough, fine enough.
DEADLINE_STRIDE = 512

ATTRIBUTION_LEADS = (
    "on ",  # English
    "am ",  # German
    "le ",  # French
    "el ",  # Spanish
    "il ",  # Italian
    "op ",  # Dutch
    "em ",  # Portuguese
    "den ",  # Danish, Norwegian, Swedish
    "på ",
    "w dniu ",  # Polish
    "dnia ",
    "dne ",  # Czech
)

ATTRIBUTION_VERBS = (
    "wrote",
    "writes",
    "schrieb",
    "écrit",
    "escribió",
    "scritto",
    "schreef",
    "escreveu",
    "skrev",
    "kirjoitti",
    "pisze",
    "napisał",
    "napisał(a)",
    "írta",  # Hungarian
    "napsal",
    "написал",
    "написала",
    "написал(а)",
)

VERB_SET = frozenset(ATTRIBUTION_VERBS)

FROM_KEYS = frozenset(
    {"from", "von", "de", "van", "fra", "från", "od", "da", "от", "lähettäjä", "feladó", "差出人"}
    # French webmail opens its block with the date: "Message du : 12/12/2016 13:20 / De : ..."
    | {"message du"}
)
FOLLOW_KEYS = frozenset(
    {
        # sent / date
        "sent",
        "date",
        "gesendet",
        "datum",
        "envoyé",
        "date d'envoi",
        "enviado",
        "fecha",
        "inviato",
        "data",
        "verzonden",
        "sendt",
        "skickat",
        "wysłano",
        "отправлено",
        "дата",
        "lähetetty",
        "送信日時",
        # to / cc / subject
        "to",
        "cc",
        "an",
        "à",
        "para",
        "a",
        "aan",
        "til",
        "till",
        "do",
        "кому",
        "vastaanottaja",
        "宛先",
        "subject",
        "betreff",
        "objet",
        "asunto",
        "oggetto",
        "onderwerp",
        "emne",
        "ämne",
        "temat",
        "тема",
        "aihe",
        "件名",
    }
)

SEPARATOR_PHRASES = frozenset(
    {
        "original message",
        "original-message",
        "forwarded message",
        "begin forwarded message:",
        "ursprüngliche nachricht",
        "weitergeleitete nachricht",
        "message d'origine",
        "message d’origine",
        "message transféré",
        "mensaje original",
        "messaggio originale",
        "oorspronkelijk bericht",
        "originalmeddelande",
        "opprinnelig melding",
        "oprindelig meddelelse",
        "oprindelig besked",
        "originalnachricht",
        "mensagem original",
        "wiadomość oryginalna",
        "исходное сообщение",
        "alkuperäinen viesti",
    }
)

# A history header some webmails frame in a rule: "==== Message du : 12/12/2016 13:20 ====".
FRAMED_HEADER_STARTS = ("message du", "message de", "message from", "nachricht von", "mensaje de")

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

VALEDICTIONS = frozenset(
    {
        "thanks",
        "thank you",
        "many thanks",
        "thanks again",
        "thanks so much",
        "thx",
        "best",
        "best wishes",
        "regards",
        "best regards",
        "kind regards",
        "warm regards",
        "warmly",
        "cheers",
        "sincerely",
        "respectfully",
        "all the best",
        "take care",
        "mit freundlichen grüßen",
        "viele grüße",
        "beste grüße",
        "liebe grüße",
        "cordialement",
        "bien à vous",
        "saludos",
        "un saludo",
        "atentamente",
        "cordiali saluti",
        "met vriendelijke groet",
        "groeten",
        "med vänlig hälsning",
        "vänliga hälsningar",
        "med venlig hilsen",
        "hilsen",
        "mvh",
        "pozdrawiam",
    }
)

# Mail gateways stamp these at the top of the body, above what the person wrote.
BANNER_STARTS = (
    "caution:",
    "caution -",
    "[external]",
    "external email",
    "external:",
    "external sender",
    "warning: this email originated",
    "this email originated from outside",
    "this message originated from outside",
    "notice: this email originated",
)
BANNER_LINES = 4

# Legal footers added under the reply by agencies' mail servers.
DISCLAIMER_STARTS = (
    "disclaimer",
    "confidentiality notice",
    "notice of confidentiality",
    "confidentiality statement",
    "privileged and confidential",
    "this e-mail and any attachment",
    "this email and any attachment",
    "this message and any attachment",
    "this e-mail message is intended",
    "this email message is intended",
    "this message is intended only",
    "the information contained in this",
    "the information in this e-mail",
    "the information in this email",
    "this email has been scanned",
    "confidential:",
    "confidential information",
    "confidentiality:",
    "statement of confidentiality",
    "important notice",
    "important confidentiality",
    "privacy notice",
    "hipaa",
    "if you are not the intended recipient",
    "if you have received this",
    "this communication",
    "this transmission",
    "this message may contain",
    "this email may contain",
    "this e-mail may contain",
    "this message contains",
    "this email contains",
    "this e-mail contains",
    "the contents of this",
    "please consider the environment",
    "aviso de confidencialidad",
    "aviso legal",
    "confidencialidad:",
    "este mensaje y sus anexos",
    "este mensaje y sus adjuntos",
    "este correo electrónico y",
    "este mensaje es confidencial",
    "este mensaje contiene",
    "la información contenida en",
    "vertraulichkeitshinweis",
    "haftungsausschluss",
    "diese e-mail enthält",
    "diese e-mail kann",
    "diese nachricht enthält",
    "diese e-mail ist vertraulich",
    "wichtiger hinweis",
)
# A notice is often framed: "*** CONFIDENTIALITY NOTICE ***", "-- Disclaimer --".
DISCLAIMER_FRAME = "*-_=~#[( "

# The first letters of MOBILE_SIGNATURE's lines ("sent …", "envoyé …", "get …", "von …", …).
MOBILE_INITIALS = frozenset("segviwо")
MOBILE_FIRST_PAIRS = frozenset({"se", "en", "ge", "vo", "in", "ve", "sk", "wy", "от"})
# A line that ends the reply by itself starts with a frame or rule character, or with the
# first two letters of a mobile line or a notice; any other line is passed over at once.
CUT_FIRST_CHARS = frozenset(DISCLAIMER_FRAME.strip() + "—")
CUT_FIRST_PAIRS = MOBILE_FIRST_PAIRS | frozenset(start[:2] for start in DISCLAIMER_STARTS)

# Single capitalised words that end a reply without being a name: commands, their reasons, and
# the short answers people give.
NOT_NAMES = frozenset(
    {
        "accept",
        "accepted",
        "yes",
        "no",
        "decline",
        "declined",
        "tentative",
        "provision",
        "funding",
        "staffing",
        "location",
        "other",
        "vacancy",
        "enrolled",
        "note",
        "status",
        "thanks",
        "cheers",
        "best",
        "regards",
        "done",
        "ok",
        "okay",
        "sure",
        "agreed",
        "confirmed",
        "noted",
        "great",
        "perfect",
        "gracias",
        "danke",
        "saludos",
        "ja",
        "nein",
        "si",
        "sí",
    }
    | frozenset(
        [
            "today",
            "tomorrow",
            "tonight",
            "asap",
            "urgent",
            "pending",
            "approved",
            "full",
            "monday",
            "tuesday",
            "wednesday",
            "thursday",
            "friday",
            "saturday",
            "sunday",
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
            "lunes",
            "martes",
            "jueves",
            "viernes",
            "sabado",
            "domingo",
            "hoy",
            "mañana",
            "montag",
            "dienstag",
            "mittwoch",
            "donnerstag",
            "freitag",
            "samstag",
            "sonntag",
            "heute",
            "morgen",
        ]
    )
)

RULE_CHARS = "-_=—*~"

# Words that join two names on a signature line ("Christian and Steve").
NAME_JOINERS = frozenset({"and", "&", "und", "y", "et"})
SEPARATOR_EDGES = frozenset("-_=*:")

DIGIT = re.compile(r"\d")

# A quoted line or a rule starts with one of these; a rule may also end with one of RULE_EDGES.
OPENING_STARTS = frozenset(">-_=*")
RULE_EDGES = frozenset("-_=*")


WORD_BREAKS = str.maketrans(dict.fromkeys(",:;<>\"'", " "))

INVISIBLE_CHARS = "\u200b\u200c\u200d\u2060\ufeff\u00ad"
INVISIBLE = dict.fromkeys(map(ord, INVISIBLE_CHARS), None)


class ReadTimeout(Exception):
    """The time allowed for reading one message ran out."""


def extract_reply(
    text: str, *, sender_names: Iterable[str] = (), deadline: float | None = None
) -> str:
    """The text the sender wrote: top-posted above the history, or the first block under it."""
    lines = _drop_banner(_normalise(text))
    boundary = _first_boundary(lines, 0, deadline)
    above = _strip_signature(lines[:boundary], sender_names, deadline)
    if _has_text(above) and not _only_salutation(above):
        return _join(above)
    below = _strip_signature(_below_history(lines, boundary, deadline), sender_names, deadline)
    # "Hi Dana," above the quote and the answer under it: both are the reply.
    return _join([*above, "", *below] if _has_text(above) and _has_text(below) else above or below)


def is_quoted(line: str) -> bool:
    return line.lstrip().startswith(">")


def _normalise(text: str) -> list[str]:
    # `in` is a fast scan, and most bodies need none of these rewrites
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "\xa0" in text:
        text = text.replace("\xa0", " ")
    if any(ch in text for ch in INVISIBLE_CHARS):  # translate is not a fast scan
        text = text.translate(INVISIBLE)
    return [line.rstrip() for line in text.split("\n")]


def _drop_banner(lines: list[str]) -> list[str]:
    first = _first_text_index(lines)
    if first is None or len(lines[first]) > MAX_PATTERN_LINE * 2:
        return lines
    if not lines[first].strip().lower().startswith(BANNER_STARTS):
        return lines
    end = first
    while end < len(lines) and end < first + BANNER_LINES and lines[end].strip():
        end += 1
    return lines[end:]


def _check(deadline: float | None, index: int) -> None:
    if deadline is not None and index % DEADLINE_STRIDE == 0 and time.monotonic() > deadline:
        raise ReadTimeout


def _first_boundary(lines: Sequence[str], start: int, deadline: float | None) -> int:
    """Index of the first line where quoted history begins (len(lines) when there is none).

    Only the lines that could end a history opening (_may_end_opening: a few substring and
    character tests) and the lines up to two above them are tested in full."""
    checked = start
    for index in range(start, len(lines)):
        if deadline is not None and index % DEADLINE_STRIDE == 0:
            _check(deadline, index)
        if not _may_end_opening(lines[index]):
            continue
        # a line above that has none of the marks can only open an attribution ending here
        for above in range(max(index - ATTRIBUTION_SPAN + 1, checked), index):
            line = lines[above]
            if line and len(line) <= MAX_PATTERN_LINE and _attribution_length(lines, above):
                return above
        if _starts_history(lines, index):
            return index
        checked = index + 1
    return len(lines)


def _may_end_opening(line: str) -> bool:
    """Every line that starts quoted history, or ends an attribution opened up to two lines
    above, has one of these: a quote mark or a rule at its start, a rule at its end, a colon (a
    header key; an attribution's end) or an at sign (an attribution without its colon)."""
    return bool(line) and (
        ":" in line
        or "@" in line
        or line[-1] in RULE_EDGES
        or (line.lstrip()[:1] if line[0].isspace() else line[0]) in OPENING_STARTS
    )


def _starts_history(lines: Sequence[str], index: int) -> bool:
    line = lines[index]
    if is_quoted(line):
        return True
    if len(line) > MAX_PATTERN_LINE or not line.strip():
        return False
    return (
        _is_separator(line)
        or _attribution_length(lines, index) > 0
        or _is_header_block(lines, index)
    )


def _is_separator(line: str) -> bool:
    bare = line.strip()
    if bare[:1] not in SEPARATOR_EDGES and bare[-1:] not in SEPARATOR_EDGES:
        return False  # every separator is framed in rule characters or ends with a colon
    if len(bare) >= 10 and not bare.strip("_"):
        return True  # Outlook's row of underscores above the quoted header block
    phrase = bare.strip("-_=* ").lower()
    if bare.startswith(("===", "---")) and phrase.startswith(FRAMED_HEADER_STARTS):
        return True  # "==== Message du : 12/12/2016 13:20"
    return phrase in SEPARATOR_PHRASES and (bare != phrase or phrase.endswith(":"))


def _attribution_length(lines: Sequence[str], index: int) -> int:
    """How many lines the attribution starting here spans ("On ... wrote:"), 0 if none."""
    first = lines[index].strip().lower()
    if first.startswith("--") and first.endswith("--"):
        # Zoho: "---- On Wed, 24 Feb 2021 14:02:50 +0530 someone@x.org wrote ----"
        core = first.strip("- ")
        return 1 if core.startswith("on ") and core.endswith(ATTRIBUTION_VERBS) else 0
    joined = first
    # A wrapped attribution starts with its lead word or a date ("02.04.2012 14:20 ..."); without
    # this, any sentence just above a one-line attribution would be swallowed with it.
    may_wrap = first.startswith(ATTRIBUTION_LEADS) or DIGIT.search(first) is not None
    if not may_wrap and not first.endswith(":"):
        return 0  # neither a one-line attribution nor the start of a wrapped one
    for span in range(1, ATTRIBUTION_SPAN + 1):
        if span > 1:
            if not may_wrap or index + span - 1 >= len(lines):
                return 0
            nxt = lines[index + span - 1].strip().lower()
            # Gmail may wrap right before the closing ">:", which then looks like a quoted line.
            wrapped_close = nxt.startswith(">:")
            if not nxt or len(nxt) > MAX_PATTERN_LINE or (is_quoted(nxt) and not wrapped_close):
                return 0
            if nxt.startswith(ATTRIBUTION_LEADS):
                return 0  # the attribution starts on that line, not this one
            joined = f"{joined} {nxt}"
        # Some clients drop the colon: "On Wed, 14 Nov 2018 08:14 -0200 Jo <jo@x.org> wrote".
        ends = joined.endswith(":") or ("@" in joined and joined.endswith(ATTRIBUTION_VERBS))
        if ends and _reads_as_attribution(joined):
            return span
    return 0


def _reads_as_attribution(line: str) -> bool:
    has_verb = not VERB_SET.isdisjoint(line.translate(WORD_BREAKS).split())
    has_detail = "@" in line or DIGIT.search(line) is not None
    if has_verb and (line.startswith(ATTRIBUTION_LEADS) or has_detail):
        return True
    # Gmail's dated form without a verb: "2026-03-03 10:12 GMT-05:00 Dana <dana@x.org>:"
    return line.endswith(">:") and "@" in line and has_detail


def _header_key(line: str) -> str | None:
    bare = line.strip().lstrip("*").strip()
    key, colon, value = bare.partition(":")
    if not colon or len(key) > 20:
        return None
    return key.strip("* ").lower() if value.strip("* ") or key.endswith("*") else None


def _is_header_block(lines: Sequence[str], index: int) -> bool:
    if _header_key(lines[index]) not in FROM_KEYS:
        return False
    seen = 0
    for line in lines[index + 1 : index + 1 + HEADER_BLOCK_SPAN]:
        if not line.strip():
            continue
        if len(line) > MAX_PATTERN_LINE:
            return False
        if _header_key(line) in FOLLOW_KEYS:
            return True
        seen += 1
        if seen > 2:
            return False
    return False


def _below_history(lines: Sequence[str], boundary: int, deadline: float | None) -> list[str]:
    """Bottom-posting and inline replies: the first unquoted block after the history starts."""
    index = boundary
    while index < len(lines):
        _check(deadline, index)
        line = lines[index]
        if is_quoted(line) or not line.strip():
            index += 1
            continue
        span = _attribution_length(lines, index) if len(line) <= MAX_PATTERN_LINE else 0
        if span:
            index += span
            continue
        short = len(line) <= MAX_PATTERN_LINE
        if short and (_is_separator(line) or _is_header_block(lines, index)):
            # Outlook-style history is not marked line by line: nothing below it is new text.
            return []
        end = _first_boundary(lines, index, deadline)
        return list(lines[index:end])
    return []


def _strip_signature(
    lines: Sequence[str], sender_names: Iterable[str], deadline: float | None
) -> list[str]:
    names = {n.strip().lower() for n in sender_names if n and n.strip()}
    first = _first_text_index(lines)
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
        if _is_sign_off(line.strip(), names):
            kept = list(lines[:index])
            # a team line right above may head the signature: "ENA Human Resources / Julie K."
            return _drop_closing_block(kept, first) if lines[index - 1].strip() else kept
    if cut < len(lines):
        return list(lines[:cut])
    if MOBILE_SIGNATURE.fullmatch(lines[first].strip()) and len(lines[first]) <= MAX_PATTERN_LINE:
        return []
    return _drop_closing_block(_drop_lone_first_name(list(lines), first), first)


def _first_cut(lines: Sequence[str], first: int, deadline: float | None) -> int:
    """The first line from `first` on that ends the reply by itself: "-- ", a rule of em dashes,
    a mobile client's line or a legal notice (len(lines) when there is none)."""
    for index in range(first, len(lines)):
        if deadline is not None and index % DEADLINE_STRIDE == 0:
            _check(deadline, index)
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
        if _is_disclaimer(bare):
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
        if bare and not _is_contact(bare):
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
        if len(line) <= MAX_PATTERN_LINE and _is_disclaimer(bare):
            break
        if _is_contact(bare):
            continue
        count += 1
        if count > SIGNATURE_TAIL or len(line) > 80:
            return count, True
    return count, False


def _is_signature_rule(lines: Sequence[str], index: int) -> bool:
    """A long row of hyphens with a blank line above it (a heading's underline has none)."""
    bare = lines[index].strip()
    return len(bare) >= 8 and not bare.strip("-") and not lines[index - 1].strip()


def _drop_lone_first_name(lines: list[str], first: int) -> list[str]:
    """A first name alone on the last line, under a finished sentence, signs the message even
    when the From line does not carry it ("…give me a call. / Bert" from "Meyers")."""
    texts: list[int] = []  # the last two lines with text, from the bottom
    for index in range(len(lines) - 1, first - 1, -1):
        if lines[index].strip():
            texts.insert(0, index)
            if len(texts) == 2:
                break
    if len(texts) < 2:
        return lines
    last, above = lines[texts[-1]].strip(), lines[texts[-2]].strip()
    name = last.rstrip(".")
    if not (
        2 <= len(name) <= 12
        and name.isalpha()
        and name[0].isupper()
        and name[1:].islower()
        and name.lower() not in NOT_NAMES
        and above.endswith((".", "!", "?", "...", ")"))
    ):
        return lines
    return lines[: texts[-1]]


def _drop_closing_block(lines: list[str], first: int) -> list[str]:
    """A last paragraph of at most SIGNATURE_BLOCK short lines that reads as a signature: a name
    or a team in capitalised words with titles and numbers under it ("Stella Yu / Manager - Rate
    Systems / (713)215-3381", "ENA Human Resources", "Bert"), or contact lines only. It must be
    set off by a blank line under a paragraph of several words, so a greeting and a lone word
    ("Hi / there / Bob") or a two-line answer stays whole."""
    end = len(lines)
    while end > first and not lines[end - 1].strip():
        end -= 1
    start = end
    while start > first and lines[start - 1].strip():
        start -= 1
    if start <= first or end - start > 2 * SIGNATURE_BLOCK:
        return lines
    block = [line.strip() for line in lines[start:end]]
    if any(len(line) > 50 for line in block):
        return lines
    above, words = "", 0  # the last line of text above the block; words up to four
    for index in range(start - 1, first - 1, -1):
        bare = lines[index].strip()
        if bare:
            above = above or bare
            words += len(bare.split())
            if words >= 4:
                break
    if words < 4 or above.endswith((",", ":")):
        return lines
    contacts = [_is_contact(line) for line in block]
    if all(contacts):
        if len(block) < 2 or any(line.lower().startswith(("www.", "http")) for line in block):
            return lines  # links closing a message are part of it ("Please read: / http://...")
        return lines[:start]  # "a@b.org / 503-833-4350"
    if len(contacts) - sum(contacts) > SIGNATURE_BLOCK:
        return lines
    if contacts[0]:
        return lines
    if not all(c or _is_title_line(line) for c, line in zip(contacts, block, strict=True)):
        return lines
    heading = block[0].split()
    if len(heading) > 4 or any(w.strip(",.()").lower() in NOT_NAMES for w in heading):
        return lines  # "No Vacancy", "Monday": an answer; a longer line is not a name or team
    if _is_title_line(above):
        return lines  # a list of headings or attachments, not a message and its signature
    return lines[:start]


def _is_title_line(line: str) -> bool:
    """Capitalised words, initials, joiners and numbers only ("J. E. McGrath", "Manager - Rate
    Systems", "Parking & Transportation Desk / 3-7060"); no sentence punctuation at its end."""
    if line.endswith(("!", "?", ":", ";", ",")) or not any(ch.isalnum() for ch in line):
        return False
    for word in line.split():
        bare = word.strip(",.()/")
        if not bare or bare in NAME_JOINERS or bare in ("-", "–", "|"):
            continue
        if not (bare[0].isupper() or bare[0].isdigit()):
            return False
        if len(bare) > 4 and "." in bare:
            return False  # a file name ("ATT09176.jpg"), not a name or a title
    return True


def name_forms(display: str) -> list[str]:
    """The ways a sender signs off: "Dana Whitfield", "Dana", "Whitfield", "DW" ("Whitfield,
    Dana" and Outlook's "Whitfield  Dana" too)."""
    display = display.strip().strip("\"'").strip()
    if not display or "@" in display:
        return []
    if "," in display:
        last, _, first = display.partition(",")
        display = f"{first.strip()} {last.strip()}".strip()
    words = [word.strip(".") for word in display.split() if len(word.strip(".")) >= 2]
    forms = [" ".join(display.split()), *words]
    if len(words) >= 2:
        forms.append(f"{words[0]} {words[-1]}")
        forms.append("".join(word[0] for word in (words[0], words[-1])))
        forms.append(f"{words[0]}{words[-1]}")  # "JohnAnderson", as some sign with no space
    return list(dict.fromkeys(forms))


def _is_sign_off(bare: str, names: set[str]) -> bool:
    text = bare.lower().rstrip(",.!").strip()
    if text in VALEDICTIONS:
        return True
    if not names:
        return False
    text = text.lstrip("-–~ ").strip()
    if text in names:
        return True
    head, mark, tail = text.partition(",") if "," in text else text.partition(". ")
    if mark and tail.strip(" .") in names:
        head = head.strip()
        if head in VALEDICTIONS or (mark == "," and _is_short_closing(head)):
            return True  # "Thanks, BT", "Your pal, Craig."
    return _is_name_line(bare.lstrip("-–~ ").strip(), names)


def _is_name_line(line: str, names: set[str]) -> bool:
    """The sender's name among capitalised words, initials, a phone or an extension:
    "Barry Tycholiz - 713-853-1587", "Todd A. Perry", "Stephane x6721", "Bert Meyers"."""
    words = line.split()
    if not 1 < len(words) <= 6 or not any(w.lower().rstrip(",.") in names for w in words[:3]):
        return False
    if not words[0][0].isupper():
        return False
    for word in words[1:]:
        if len(word) > 1 and not word.strip(RULE_CHARS):
            return False  # "---- Load Schedule ----" is a framed heading, not a signature
        bare = word.strip(",.()")
        if not bare or not bare[0].isalpha() or bare[0].isupper() or bare.lower() in names:
            continue
        if bare in NAME_JOINERS:
            continue  # "Christian and Steve"
        if bare[0] == "x" and bare[1:].lstrip("-").isdigit():
            continue
        return False
    return True


def _is_short_closing(head: str) -> bool:
    """A closing of up to three plain words before the sender's name ("your pal", "talk soon")."""
    words = head.split()
    return 0 < len(words) <= 3 and all(word.isalpha() for word in words)


def _is_contact(bare: str) -> bool:
    """An email address, a phone or fax number, or a web address alone on its line: the
    contact lines of a signature ("Phone:  406-497-2806", "pm@navistaff.com", "www.x.com")."""
    if len(bare) > 60:
        return False
    if "@" in bare:
        return " " not in bare
    if " " not in bare and bare.lower().startswith(("www.", "http://", "https://")):
        return True
    if DIGIT.search(bare) is None:
        return False  # most lines: no number at all, so no need to count
    return sum(map(str.isdigit, bare)) >= 7 and sum(map(str.isalpha, bare)) <= 12


def _is_disclaimer(bare: str) -> bool:
    return bare.lower().lstrip(DISCLAIMER_FRAME).startswith(DISCLAIMER_STARTS)


def _first_text_index(lines: Sequence[str]) -> int | None:
    for index, line in enumerate(lines):
        if line.strip():
            return index
    return None


def _only_salutation(lines: Sequence[str]) -> bool:
    text: list[str] = []
    for line in lines:
        if line.strip():
            text.append(line.strip())
            if len(text) > 1:
                return False
    return len(text) == 1 and len(text[0].split()) <= 4 and text[0].endswith((",", "!", ":"))


def _has_text(lines: Sequence[str]) -> bool:
    return any(line.strip() for line in lines)


def _join(lines: Sequence[str]) -> str:
    end = len(lines)
    # A rule line left above the cut belonged to the history ("-----" over "From:").
    while end and not lines[end - 1].strip(RULE_CHARS + " "):
        end -= 1
    return "\n".join(lines[:end]).strip("\n").strip()
