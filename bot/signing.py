"""Signed values (HMAC-SHA256 with SECRET_KEY): web sign-in links, session cookies, CSRF tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence

# Each purpose signs under its own context, so a value signed for one is never valid for another.
_CONTEXT = b"closeloop-signed\x00"
_MAC_BYTES = 18


class BadSignature(Exception):
    """The value was not signed by us for this purpose (altered, cut, or forged)."""


def new_nonce() -> str:
    """32 hex characters of randomness."""
    return secrets.token_hex(16)


def sign(secret: str, purpose: str, *fields: str) -> str:
    """`field.field...mac`: the fields in clear (none may contain a dot), then their signature."""
    if not secret:
        raise ValueError("the signing secret is empty")
    for value in fields:
        if "." in value or not value:
            raise ValueError(f"cannot sign the field {value!r}")
    body = ".".join(fields)
    return f"{body}.{_mac(secret, purpose, body)}"


def unsign(keys: str | Sequence[str], purpose: str, value: str, *, count: int) -> list[str]:
    """The `count` fields of a value signed for `purpose` with one of `keys` (the current
    SECRET_KEY, then the previous one during a rotation); BadSignature otherwise."""
    body, _, mac = value.strip().rpartition(".")
    fields = body.split(".")
    if (
        not body
        or len(fields) != count
        or not any(verify_mac(key, purpose, body, mac) for key in _keys(keys))
    ):
        raise BadSignature(purpose)
    return fields


def verify_mac(keys: str | Sequence[str], purpose: str, value: str, mac: str) -> bool:
    """Whether `mac` is the signature of `value` under one of `keys`."""
    sent = mac.encode("ascii", "replace")
    return any(
        hmac.compare_digest(sent, _mac(key, purpose, value).encode("ascii")) for key in _keys(keys)
    )


def _keys(keys: str | Sequence[str]) -> tuple[str, ...]:
    found = (keys,) if isinstance(keys, str) else tuple(keys)
    if not found or not all(found):
        raise ValueError("the signing secret is empty")
    return found


def mac_of(secret: str, purpose: str, value: str) -> str:
    """The signature alone (e.g. a CSRF token bound to a cookie's random value)."""
    return _mac(secret, purpose, value)


def _mac(secret: str, purpose: str, body: str) -> str:
    message = _CONTEXT + purpose.encode("utf-8") + b"\x00" + body.encode("utf-8")
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).digest()[:_MAC_BYTES]
    return base64.urlsafe_b64encode(digest).decode("ascii")
