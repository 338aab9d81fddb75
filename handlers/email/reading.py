"""Turn one raw RFC 5322 message into what the bot understands: kind, sender, token, command."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from handlers.email.body_parts import HEADER_ALLOWANCE, Undecodable, decoded_body
from handlers.email.body_parts import body_text as body_text
from handlers.email.classify import (
    KIND_AUTO_REPLY,
    KIND_BOUNCE,
    bounced_recipients,
    classify,
)
from handlers.email.commands import ParsedCommand, parse_command
from handlers.email.envelope import (
    dmarc_result,
    header_value,
    recipients_of,
    reply_token_in,
    sender_name_forms,
    sender_of,
)
from handlers.email.html_text import html_to_text as html_to_text
from handlers.email.parsing import parse_message
from handlers.email.phrasing import choice_number, understand
from handlers.email.quotes import ReadTimeout, extract_reply

__all__ = [
    "ParsedCommand",
    "ReadMessage",
    "body_text",
    "html_to_text",
    "parse_command",
    "read_message",
    "to_json",
]

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
    msg = parse_message(raw)

    from_name, from_address = sender_of(msg)
    recipients = recipients_of(msg)
    token = reply_token_in(recipients, reply_address)
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
        body, body_truncated = decoded_body(msg, max_body_bytes, deadline)
        reply = extract_reply(body, sender_names=sender_name_forms(from_name), deadline=deadline)
    except ReadTimeout:
        body, reply, error = "", "", MSG_TOO_SLOW
    except Undecodable:
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
        message_id=header_value(msg, "message-id") or None,
        from_address=from_address,
        to_addresses=[address.lower() for address in recipients],
        reply_token=token,
        in_reply_to=header_value(msg, "in-reply-to") or None,
        subject=header_value(msg, "subject"),
        reply=reply,
        command=command,
        error=error,
        dmarc=dmarc_result(msg, trusted_authserv_id),
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
