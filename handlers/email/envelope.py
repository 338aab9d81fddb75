"""What a message's headers say: sender, recipients, reply token, DMARC result."""

from __future__ import annotations

from collections.abc import Iterable
from email.message import Message
from email.utils import getaddresses, parseaddr

from handlers.email.quotes import name_forms


def header_value(msg: Message, name: str) -> str:
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


def sender_of(msg: Message) -> tuple[str, str | None]:
    name, address = parseaddr(header_value(msg, "from"))
    address = address.strip().lower()
    return name.strip(), (address if "@" in address else address or None)


def recipients_of(msg: Message) -> list[str]:
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


def reply_token_in(recipients: Iterable[str], reply_address: str) -> str | None:
    # The token is returned as written; the token module decides what case it tolerates.
    base, _, domain = reply_address.strip().lower().rpartition("@")
    prefix = f"{base}+"
    for address in recipients:
        local, _, host = address.rpartition("@")
        if host.lower() == domain and local.lower().startswith(prefix) and len(local) > len(prefix):
            return local[len(prefix) :]
    return None


def sender_name_forms(display: str) -> list[str]:
    return name_forms(display)


def dmarc_result(msg: Message, trusted_authserv_id: str | None) -> str | None:
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
