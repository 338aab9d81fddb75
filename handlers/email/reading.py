"""Turn one raw RFC 5322 message into what the bot understands: kind, sender, token, command."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from email import errors, policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr
from html.parser import HTMLParser
from typing import Any

from handlers.email.classify import (
    KIND_AUTO_REPLY,
    KIND_BOUNCE,
    bounced_recipients,
    classify,
)
from handlers.email.commands import ParsedCommand, parse_command
from handlers.email.phrasing import choice_number, understand
from handlers.email.quotes import ReadTimeout, extract_reply, name_forms

__all__ = [
    "ParsedCommand",
    "ReadMessage",
    "body_text",
    "html_to_text",
    "parse_command",
    "read_message",
    "to_json",
]

# Headers and MIME framing get this much room on top of the body cap before the raw message is
# cut: the parser itself must never be handed an unbounded message.
HEADER_ALLOWANCE = 64 * 1024

# Human-facing explanations for messages that are not read as commands.
MSG_AUTO_REPLY = "This message is an automatic reply or list mail; it is not read as a command."
MSG_BOUNCE = "This message is a delivery failure report; it is not read as a command."
MSG_OWN = "This message was sent by closeloop itself; it is not read as a command."
MSG_TOO_SLOW = (
    "Your reply could not be read in the time allowed. Please reply again with the command on "
    "the first line and without the quoted message."
)
MSG_UNDECODABLE = (
    "Your reply could not be decoded (its encoding is damaged), so nothing was done. Please reply "
    "again with the command on the first line."
)
MSG_NO_BODY = "Your reply had no readable text. Please reply with the command on the first line."

FALLBACK_CHARSETS = ("utf-8", "cp1252", "latin-1")

# Elements that never carry reply text.
HTML_SKIP = frozenset({"head", "style", "script", "title", "template", "xml"})
HTML_BLOCKS = frozenset(
    {
        "p",
        "div",
        "section",
        "article",
        "header",
        "footer",
        "table",
        "tr",
        "ul",
        "ol",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "pre",
        "address",
        "center",
    }
)
HTML_RULE = "_" * 32  # an <hr> reads like Outlook's separator line


@dataclass(frozen=True)
class ReadMessage:
    """Everything the bot needs from one inbound message; `error` is written for the sender."""

    kind: str
    message_id: str | None
    from_address: str | None
    to_addresses: list[str]
    reply_token: str | None
    in_reply_to: str | None
    subject: str
    reply: str
    command: ParsedCommand | None
    error: str | None
    dmarc: str | None
    bounced_recipients: list[str] = field(default_factory=list)
    truncated: bool = False
    # The reply could be read more than one way: the readings to ask about ("Reply 1 or 2").
    # `command` is None then, and `error` is that question.
    choices: tuple[ParsedCommand, ...] = ()
    # The reply is only a number: the option picked in answer to such a question.
    choice: int | None = None


def read_message(
    raw: bytes,
    *,
    reply_address: str,
    own_addresses: Iterable[str] = (),
    trusted_authserv_id: str | None = None,
    max_body_bytes: int = 256_000,
    time_limit: float = 2.0,
) -> ReadMessage:
    """Read one raw message. Pure: no network, no database; bounded in size and time.

    `reply_address` is the configured base address (`replies@host`); the reply token is the
    plus-tag of the first recipient `replies+TOKEN@host`. Mail from `own_addresses` is our own
    mail come back (a loop) and is classed as an auto-reply.
    """
    deadline = time.monotonic() + time_limit
    truncated = len(raw) > 2 * max_body_bytes + HEADER_ALLOWANCE
    if truncated:
        raw = raw[: 2 * max_body_bytes + HEADER_ALLOWANCE]
    msg = BytesParser(policy=policy.default).parsebytes(raw)

    from_name, from_address = _sender(msg)
    recipients = _recipients(msg)
    token = _reply_token(recipients, reply_address)
    own = {a.strip().lower() for a in own_addresses}
    kind = classify(msg, from_address=from_address, has_token=token is not None)
    if from_address is not None and from_address in own and kind != KIND_BOUNCE:
        kind = KIND_AUTO_REPLY

    command: ParsedCommand | None = None
    choices: tuple[ParsedCommand, ...] = ()
    choice: int | None = None
    error: str | None
    body_truncated = False
    try:
        body, body_truncated = _body_text(msg, max_body_bytes, deadline)
        reply = extract_reply(body, sender_names=_name_forms(from_name), deadline=deadline)
    except ReadTimeout:
        body, reply, error = "", "", MSG_TOO_SLOW
    except _Undecodable:
        body, reply, error = "", "", MSG_UNDECODABLE
    else:
        if kind == KIND_BOUNCE:
            error = MSG_BOUNCE
        elif kind == KIND_AUTO_REPLY:
            error = MSG_OWN if from_address in own else MSG_AUTO_REPLY
        elif not body.strip():
            error = MSG_NO_BODY
        else:
            reading = understand(reply, *parse_command(reply))
            command, choices, error = reading.command, reading.choices, reading.error
            choice = choice_number(reply) if command is None and not choices else None

    return ReadMessage(
        kind=kind,
        message_id=_header(msg, "message-id") or None,
        from_address=from_address,
        to_addresses=[address.lower() for address in recipients],
        reply_token=token,
        in_reply_to=_header(msg, "in-reply-to") or None,
        subject=_header(msg, "subject"),
        reply=reply,
        command=command,
        error=error,
        dmarc=_dmarc(msg, trusted_authserv_id),
        bounced_recipients=bounced_recipients(msg) if kind == KIND_BOUNCE else [],
        truncated=truncated or body_truncated,
        choices=choices,
        choice=choice,
    )


def to_json(msg: ReadMessage) -> dict[str, Any]:
    """The JSON-safe form `closeloop email parse FILE` prints."""
    return {
        "kind": msg.kind,
        "reply": msg.reply,
        "command": None if msg.command is None else command_json(msg.command),
        "choices": [command_json(c) for c in msg.choices],
        "choice": msg.choice,
        "error": msg.error,
        "message_id": msg.message_id,
        "from_address": msg.from_address,
        "to_addresses": list(msg.to_addresses),
        "reply_token": msg.reply_token,
        "in_reply_to": msg.in_reply_to,
        "subject": msg.subject,
        "dmarc": msg.dmarc,
        "bounced_recipients": list(msg.bounced_recipients),
        "truncated": msg.truncated,
    }


def command_json(command: ParsedCommand) -> dict[str, Any]:
    """A command as JSON: what `email parse` prints and what a question remembers."""
    return {
        "verb": command.verb,
        "reason": command.reason,
        "argument": command.argument,
        "comment": command.comment,
        "number": command.number,
    }


def body_text(raw: bytes, *, max_body_bytes: int = 256_000) -> str:
    """The decoded text the reader strips (plain part, else HTML as text): for tools and benches."""
    msg = BytesParser(policy=policy.default).parsebytes(
        raw[: 2 * max_body_bytes + HEADER_ALLOWANCE]
    )
    try:
        return _body_text(msg, max_body_bytes, time.monotonic() + 60.0)[0]
    except (ReadTimeout, _Undecodable):
        return ""


# --- headers -------------------------------------------------------------------------------


def _header(msg: Message, name: str) -> str:
    try:
        value = msg.get(name)
    except (ValueError, TypeError, IndexError):
        return ""  # a malformed header is read as absent, not as a crash
    return "" if value is None else " ".join(str(value).split())


def _all_headers(msg: Message, name: str) -> list[str]:
    try:
        values = msg.get_all(name) or []
    except (ValueError, TypeError, IndexError):
        return []
    return [str(v) for v in values]


def _sender(msg: Message) -> tuple[str, str | None]:
    name, address = parseaddr(_header(msg, "from"))
    address = address.strip().lower()
    return name.strip(), (address if "@" in address else address or None)


def _recipients(msg: Message) -> list[str]:
    """To, Cc, then the envelope copies some servers add; original case, duplicates dropped."""
    found: list[str] = []
    seen: set[str] = set()
    for name in ("to", "cc", "delivered-to", "x-original-to"):
        for _, address in getaddresses(_all_headers(msg, name)):
            address = address.strip()
            if "@" in address and address.lower() not in seen:
                seen.add(address.lower())
                found.append(address)
    return found


def _reply_token(recipients: Iterable[str], reply_address: str) -> str | None:
    # The token is returned as written; the token module decides what case it tolerates.
    base, _, domain = reply_address.strip().lower().rpartition("@")
    prefix = f"{base}+"
    for address in recipients:
        local, _, host = address.rpartition("@")
        if host.lower() == domain and local.lower().startswith(prefix) and len(local) > len(prefix):
            return local[len(prefix) :]
    return None


def _name_forms(display: str) -> list[str]:
    return name_forms(display)


def _dmarc(msg: Message, trusted_authserv_id: str | None) -> str | None:
    """The dmarc= result stamped by our own border server; anyone else's claim is ignored."""
    if not trusted_authserv_id:
        return None
    trusted = trusted_authserv_id.strip().lower()
    for value in _all_headers(msg, "authentication-results"):
        segments = _drop_comments(value).split(";")
        words = segments[0].split()
        if not words or words[0].lower() != trusted:
            continue
        for segment in segments[1:]:
            method, equals, result = segment.strip().partition("=")
            if equals and method.strip().lower() == "dmarc":
                return result.split()[0].lower() if result.split() else None
    return None


def _drop_comments(value: str) -> str:
    out: list[str] = []
    depth = 0
    for ch in value:
        if ch == "(":
            depth += 1
        elif ch == ")" and depth:
            depth -= 1
        elif not depth:
            out.append(ch)
    return "".join(out)


# --- body ----------------------------------------------------------------------------------


def _body_text(msg: Message, max_body_bytes: int, deadline: float) -> tuple[str, bool]:
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


class _Undecodable(Exception):
    """The body's transfer encoding is damaged: acting on a guess could do the wrong thing."""


def _decode(part: Message) -> str:
    """The part's text, whatever its transfer encoding; a wrong or unknown charset is survived."""
    payload = part.get_payload(decode=True)
    if any(isinstance(d, errors.InvalidBase64CharactersDefect) for d in part.defects):
        raise _Undecodable
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


class _HtmlText(HTMLParser):
    """HTML to plain lines, with blockquotes turned into "> " lines so quote stripping sees them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self._current: list[str] = []
        self._depth = 0
        self._skip = 0
        self._pre = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in HTML_SKIP:
            self._skip += 1
        elif tag == "br":
            self._flush(force=True)
        elif tag == "hr":
            self._flush(force=False)
            self._emit(HTML_RULE)
        elif tag == "blockquote":
            self._flush(force=False)
            self._depth += 1
        elif tag == "li":
            self._flush(force=False)
            self._current.append("- ")
        elif tag in HTML_BLOCKS:
            self._flush(force=False)
            if tag == "pre":
                self._pre += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("br", "hr"):
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in HTML_SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag == "blockquote":
            self._flush(force=False)
            self._depth = max(0, self._depth - 1)
        elif tag in HTML_BLOCKS or tag in ("li", "td", "th"):
            self._flush(force=False)
            if tag == "pre":
                self._pre = max(0, self._pre - 1)

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._pre:
            head, *rest = data.split("\n")
            self._current.append(head)
            for line in rest:
                self._flush(force=True)
                self._current.append(line)
            return
        text = " ".join(data.replace("\xa0", " ").split())
        if not text:
            if data and self._current:
                self._current.append(" ")
            return
        if data[:1].isspace() and self._current:
            text = " " + text
        if data[-1:].isspace():
            text += " "
        self._current.append(text)

    def close(self) -> None:
        super().close()
        self._flush(force=False)

    def _flush(self, *, force: bool) -> None:
        line = "".join(self._current)
        line = line.rstrip() if self._pre else line.strip()
        self._current = []
        if line or force:
            self._emit(line)

    def _emit(self, line: str) -> None:
        prefix = "> " * self._depth
        self.lines.append(f"{prefix}{line}".rstrip())


def html_to_text(html: str, *, deadline: float | None = None) -> str:
    """Plain text of an HTML body; quoted blocks come out as "> " lines."""
    parser = _HtmlText()
    chunk = 64 * 1024
    for start in range(0, len(html), chunk):
        if deadline is not None and time.monotonic() > deadline:
            raise ReadTimeout
        parser.feed(html[start : start + chunk])
    parser.close()
    return "\n".join(parser.lines)
