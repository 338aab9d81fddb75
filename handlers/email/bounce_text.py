"""A delivery notice's own text told from quoted history: returned-copy markers and transcripts.

Bounces are classified before any stripping in service, but the same stripper reads a notice
when someone forwards one or a gateway rewraps it, and a notice is a reply-shaped text: the
server's words on top, the returned message under a marker line. Without these rules its SMTP
transcript (">>> DATA") reads as a quote and its marker as prose, so the copy stays.
"""

from __future__ import annotations

# The line each common MTA writes right above the copy of the message it returns, with its
# frame and closing punctuation taken off (see returned_copy_phrase).
RETURNED_COPY_MARKERS = frozenset(
    {
        "below this line is a copy of the message",  # qmail, Yahoo
        "enclosed is a copy of the message",  # qmail, older
        "this is a copy of the message, including all the headers",  # exim
        "this is a copy of your message, including all the headers",
        "this is a copy of the message's headers",  # exim, when the copy is cut to its headers
        "below is a copy of the original message",  # OpenSMTPD
        "message headers follow",  # DragonFly
        "original message headers",  # Exchange, Office 365
        "original message follows",  # sendmail, IMail
        "message header follows",  # sendmail, headers only
        "the header of the original message is following",  # 1&1, GMX
        "message text follows",  # exim 3: "|---- Message text follows: ----|"
    }
)
RETURNED_COPY_FRAME = "-_=*#| "

# The commands a client sends in an SMTP session; a transcript writes them after ">>> ".
SMTP_COMMANDS = frozenset(
    {"HELO", "EHLO", "MAIL", "RCPT", "DATA", "BDAT", "RSET", "QUIT", "NOOP", "STARTTLS", "AUTH"}
)


def returned_copy_phrase(bare: str) -> str:
    """The words of a marker line: "------ This is a copy … headers. ------" -> "this is a …"."""
    return bare.strip(RETURNED_COPY_FRAME).rstrip(".:").lower()


def is_returned_copy_marker(bare: str) -> bool:
    return returned_copy_phrase(bare) in RETURNED_COPY_MARKERS


def is_transcript(bare: str) -> bool:
    """A client command in an SMTP transcript (">>> RCPT To:<a@b>", ">>> DATA"), which only looks
    like a quote: a quoted line of prose does not open with an upper-case SMTP command."""
    if not bare.startswith(">>> "):
        return False
    word = bare[4:].split(":", 1)[0].split(" ", 1)[0]
    return word in SMTP_COMMANDS
