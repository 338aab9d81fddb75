"""Who signs a reply: sign-offs, the sender's name, and closing blocks of names and contacts."""

from __future__ import annotations

from handlers.email.body_lines import DIGIT, RULE_CHARS

# A closing paragraph of this many lines or fewer may be a signature without a name we know.
SIGNATURE_BLOCK = 4

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

# Words that join two names on a signature line ("Christian and Steve").
NAME_JOINERS = frozenset({"and", "&", "und", "y", "et"})


def drop_lone_first_name(lines: list[str], first: int) -> list[str]:
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


def drop_closing_block(lines: list[str], first: int) -> list[str]:
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
    contacts = [is_contact(line) for line in block]
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


def is_sign_off(bare: str, names: set[str]) -> bool:
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


def is_contact(bare: str) -> bool:
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
