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
SEPARATOR_EDGES = frozenset("-_=*:")

DIGIT = re.compile(r"\d")

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
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if any(ch in text for ch in INVISIBLE_CHARS):  # `in` is a fast scan; translate is not
        text = text.translate(INVISIBLE)
    return [line.replace("\xa0", " ").rstrip() for line in text.split("\n")]


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
    """Index of the first line where quoted history begins (len(lines) when there is none)."""
    for index in range(start, len(lines)):
        _check(deadline, index)
        if _starts_history(lines, index):
            return index
    return len(lines)


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
    words = line.translate(WORD_BREAKS).split()
    has_verb = any(word in ATTRIBUTION_VERBS for word in words)
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
    for index in range(first, len(lines)):
        _check(deadline, index)
        line = lines[index]
        bare = line.strip()
        if line in ("-- ", "--") or (bare and not bare.strip("—")):
            return list(lines[:index])
        if len(line) > MAX_PATTERN_LINE or index == first:
            continue
        if MOBILE_SIGNATURE.fullmatch(bare) or _is_disclaimer(bare):
            return list(lines[:index])
        if _is_sign_off(bare, names) and _tail_is_short(lines, index):
            return list(lines[:index])
    if MOBILE_SIGNATURE.fullmatch(lines[first].strip()) and len(lines[first]) <= MAX_PATTERN_LINE:
        return []
    return _drop_lone_first_name(list(lines), first)


def _drop_lone_first_name(lines: list[str], first: int) -> list[str]:
    """A first name alone on the last line, under a finished sentence, signs the message even
    when the From line does not carry it ("…give me a call. / Bert" from "Meyers")."""
    texts = [i for i in range(first, len(lines)) if lines[i].strip()]
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
    if mark and head.strip() in VALEDICTIONS and tail.strip(" .") in names:
        return True  # "Thanks, BT"
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
        bare = word.strip(",.()")
        if not bare or not bare[0].isalpha() or bare[0].isupper() or bare.lower() in names:
            continue
        if bare[0] == "x" and bare[1:].lstrip("-").isdigit():
            continue
        return False
    return True


def _is_disclaimer(bare: str) -> bool:
    return bare.lower().lstrip(DISCLAIMER_FRAME).startswith(DISCLAIMER_STARTS)


def _tail_is_short(lines: Sequence[str], index: int) -> bool:
    """Few short lines follow: a signature. A legal notice under it does not count, as it is
    cut as well ("Thanks, / Dana / Intake / CONFIDENTIALITY NOTICE: ...")."""
    count = 0
    for line in lines[index + 1 :]:
        bare = line.strip()
        if not bare:
            continue
        if len(line) <= MAX_PATTERN_LINE and _is_disclaimer(bare):
            break
        count += 1
        if count > SIGNATURE_TAIL or len(line) > 80:
            return False  # stop here: a long message under a "Thanks" is not a signature
    return True


def _first_text_index(lines: Sequence[str]) -> int | None:
    for index, line in enumerate(lines):
        if line.strip():
            return index
    return None


def _only_salutation(lines: Sequence[str]) -> bool:
    text = [line.strip() for line in lines if line.strip()]
    return len(text) == 1 and len(text[0].split()) <= 4 and text[0].endswith((",", "!", ":"))


def _has_text(lines: Sequence[str]) -> bool:
    return any(line.strip() for line in lines)


def _join(lines: Sequence[str]) -> str:
    end = len(lines)
    # A rule line left above the cut belonged to the history ("-----" over "From:").
    while end and not lines[end - 1].strip(RULE_CHARS + " "):
        end -= 1
    return "\n".join(lines[:end]).strip("\n").strip()
