"""Why a reply is not applied: the Refused error, its texts, and the command quoted back."""

from __future__ import annotations

from handlers.email.commands import ParsedCommand

# Quoted back to the sender: one line, short enough to read at a glance.
LINE_LIMIT = 80

MSG_TOO_LARGE = "Your reply is too large for us to read ({size} MB); attachments are not used."
HINT_TOO_LARGE = "Reply again with just the command, without attachments."
MSG_NO_TOKEN = (
    "Your message was not a reply to one of our notifications, so we cannot tell what it is about."
)
HINT_NO_TOKEN = "Reply to the notification itself, keeping its Reply-To address."
MSG_NOT_YOURS = (
    "The notification you replied to was sent to someone else, so we cannot act on it for you."
)
HINT_NOT_YOURS = "Reply to your own notification, from the address it was sent to, or use Slack."
MSG_OTHER_REFERRAL = (
    "Your reply names {named}, but the notification you replied to is about {number}."
)
HINT_OTHER_REFERRAL = "Reply to the notification about {named}, or leave the number out."
MSG_NEEDS_NUMBER = (
    "The message you replied to lists several referrals, so your reply must say which one."
)
HINT_NEEDS_NUMBER = "Put its number after the command word, for example: accept R-2026-000042."
MSG_NOT_LISTED = "{named} is not one of the referrals in the message you replied to."
HINT_NOT_LISTED = "Reply to a message that lists it, or to its own notification."
MSG_GONE = "The referral this notification is about no longer exists."


class Refused(Exception):
    """A reply that is not applied; `why` and `hint` are written for its sender."""

    def __init__(
        self,
        reason: str,
        why: str,
        *,
        hint: str | None = None,
        number: str | None = None,
        referral_id: int | None = None,
        read_as: str | None = None,
    ) -> None:
        super().__init__(why)
        self.reason = reason
        self.why = why
        self.hint = hint
        self.number = number
        self.referral_id = referral_id
        self.read_as = read_as


def describe(command: ParsedCommand) -> str:
    """The command as understood, quoted back when it could not be applied."""
    words = [command.verb]
    if command.number:
        words.append(command.number)
    if command.reason:
        words.append(f"({command.reason})")
    if command.argument and command.verb != "note":
        words.append(command.argument)
    return " ".join(words)


def first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            line = line.strip()
            return line if len(line) <= LINE_LIMIT else line[: LINE_LIMIT - 1] + "…"
    return ""
