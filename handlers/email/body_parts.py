"""A message's body as text: the text parts picked, decoded and unflowed, within a cap."""

from __future__ import annotations

import time
from email import errors
from email.message import EmailMessage, Message

from handlers.email.html_text import html_to_text
from handlers.email.parsing import parse_message
from handlers.email.quotes import ReadTimeout

# Headers and MIME framing get this much room on top of the body cap before the raw message is
# cut: the parser itself must never be handed an unbounded message.
HEADER_ALLOWANCE = 64 * 1024

FALLBACK_CHARSETS = ("utf-8", "cp1252", "latin-1")


def body_text(raw: bytes, *, max_body_bytes: int = 256_000) -> str:
    """The decoded text the reader strips (plain part, else HTML as text): for tools and benches."""
    msg = parse_message(raw[: 2 * max_body_bytes + HEADER_ALLOWANCE])
    try:
        return decoded_body(msg, max_body_bytes, time.monotonic() + 60.0)[0]
    except (ReadTimeout, Undecodable):
        return ""


def decoded_body(msg: Message, max_body_bytes: int, deadline: float) -> tuple[str, bool]:
    """The reply's text: the plain part, else the HTML part turned into text; then capped."""
    text = ""
    for part in _text_parts(msg):
        decoded = _decode(part)
        if part.get_content_subtype() == "html":
            decoded = html_to_text(decoded[: 4 * max_body_bytes], deadline=deadline)
        elif str(part.get_param("format", "", header="content-type")).lower() == "flowed":
            decoded = _unflow(decoded, str(part.get_param("delsp", "", header="content-type")))
        if decoded.strip():
            text = decoded
            break
    encoded = text.encode("utf-8")
    if len(encoded) <= max_body_bytes:
        return text, False
    return encoded[:max_body_bytes].decode("utf-8", errors="ignore"), True


def _text_parts(msg: Message) -> list[Message]:
    """Candidate body parts, best first: plain, then HTML, then any other inline text."""
    parts: list[Message] = []
    if isinstance(msg, EmailMessage):
        for preference in ("plain", "html"):
            try:
                body = msg.get_body(preferencelist=(preference,))
            except (KeyError, ValueError, TypeError):
                body = None
            if body is not None:
                parts.append(body)
    if not parts and msg.get_content_maintype() == "text":
        parts.append(msg)
    return parts


class Undecodable(Exception):
    """The body's transfer encoding is damaged: acting on a guess could do the wrong thing."""


def _decode(part: Message) -> str:
    """The part's text, whatever its transfer encoding; a wrong or unknown charset is survived."""
    payload = part.get_payload(decode=True)
    if any(isinstance(d, errors.InvalidBase64CharactersDefect) for d in part.defects):
        raise Undecodable
    if not isinstance(payload, bytes):
        text = part.get_payload()
        return text if isinstance(text, str) else ""
    declared = part.get_content_charset() or "us-ascii"
    for charset in (declared, *FALLBACK_CHARSETS):
        try:
            return payload.decode(charset)
        except (LookupError, UnicodeDecodeError):
            continue
    return payload.decode("latin-1")  # unreachable in practice: latin-1 decodes any byte


def _unflow(text: str, delsp: str) -> str:
    """RFC 3676 format=flowed: a line ending in a space continues on the next line."""
    out: list[str] = []
    pending = ""
    for line in text.replace("\r\n", "\n").split("\n"):
        if line.startswith(" "):
            line = line[1:]  # space-stuffing
        soft = line.endswith(" ") and line != "-- " and not line.startswith(">")
        if soft:
            pending += line[:-1] if delsp.lower() == "yes" else line
            continue
        out.append(pending + line)
        pending = ""
    if pending:
        out.append(pending)
    return "\n".join(out)
