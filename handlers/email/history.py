"""Where quoted history begins: quote marks, separators, attributions and header blocks."""

from __future__ import annotations

from collections.abc import Sequence

from handlers.email.body_lines import DEADLINE_STRIDE, DIGIT, MAX_PATTERN_LINE, check_deadline
from handlers.email.bounce_text import is_returned_copy_marker, is_transcript

# How many lines may be joined when an attribution ("On ... wrote:") is wrapped by the client.
ATTRIBUTION_SPAN = 3

# A header block ("From: / Sent: / To: / Subject:") must show its second header this soon.
HEADER_BLOCK_SPAN = 5

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
SEPARATOR_EDGES = frozenset("-_=*:")
# A returned copy's marker without a colon or a frame ends this way ("Message headers follow.").
RETURNED_COPY_ENDS = ("follow", "follows", "follow.", "follows.")

# A quoted line or a rule starts with one of these; a rule may also end with one of RULE_EDGES.
OPENING_STARTS = frozenset(">-_=*")
RULE_EDGES = frozenset("-_=*")


WORD_BREAKS = str.maketrans(dict.fromkeys(",:;<>\"'", " "))


def is_quoted(line: str) -> bool:
    bare = line.lstrip()
    return bare.startswith(">") and not is_transcript(bare)


def first_boundary(lines: Sequence[str], start: int, deadline: float | None) -> int:
    """Index of the first line where quoted history begins (len(lines) when there is none).

    Only the lines that could end a history opening (_may_end_opening: a few substring and
    character tests) and the lines up to two above them are tested in full."""
    checked = start
    for index in range(start, len(lines)):
        if deadline is not None and index % DEADLINE_STRIDE == 0:
            check_deadline(deadline, index)
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
    header key; an attribution's end), an at sign (an attribution without its colon) or, for a
    notice's returned copy, "follows." ("Message headers follow.")."""
    return bool(line) and (
        ":" in line
        or "@" in line
        or line[-1] in RULE_EDGES
        or (line.lstrip()[:1] if line[0].isspace() else line[0]) in OPENING_STARTS
        or line.endswith(RETURNED_COPY_ENDS)
    )


def _starts_history(lines: Sequence[str], index: int) -> bool:
    line = lines[index]
    if is_quoted(line):
        return True
    if len(line) > MAX_PATTERN_LINE or not line.strip():
        return False
    return (
        _is_separator(line)
        or is_returned_copy_marker(line.strip())
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
    # Gmail's dated form without a verb: "2026-03-03 10:12 GMT-05:00 Dana <dana@x.org>:". A date
    # comes before the address; a notice's recipient line "<a@b>:" has none, and "… after RCPT
    # TO:<a@b>:" is a server's words.
    if not (line.endswith(">:") and "@" in line) or "rcpt to:" in line or "mail from:" in line:
        return False
    return DIGIT.search(line, 0, line.rfind("<")) is not None


def _header_key(line: str) -> str | None:
    bare = line.strip().lstrip("*").strip()
    key, colon, value = bare.partition(":")
    if not colon or len(key) > 20:
        return None
    return key.strip("* ").lower() if value.strip("* ") or key.endswith("*") else None


def _is_header_block(lines: Sequence[str], index: int) -> bool:
    if _header_key(lines[index]) not in FROM_KEYS:
        return False
    if index and lines[index][:1].isspace() and _header_key(lines[index - 1]) in FOLLOW_KEYS:
        # an indented list of fields that began above with another one ("  Date: …" over
        # "  From: …"): a notice naming the message it reports on, not a quoted header block
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


def below_history(lines: Sequence[str], boundary: int, deadline: float | None) -> list[str]:
    """Bottom-posting and inline replies: the first unquoted block after the history starts."""
    index = boundary
    while index < len(lines):
        check_deadline(deadline, index)
        line = lines[index]
        if is_quoted(line) or not line.strip():
            index += 1
            continue
        span = _attribution_length(lines, index) if len(line) <= MAX_PATTERN_LINE else 0
        if span:
            index += span
            continue
        short = len(line) <= MAX_PATTERN_LINE
        if short and (
            _is_separator(line)
            or is_returned_copy_marker(line.strip())
            or _is_header_block(lines, index)
        ):
            # Outlook-style history is not marked line by line: nothing below it is new text.
            return []
        end = first_boundary(lines, index, deadline)
        return list(lines[index:end])
    return []
