"""Signed values (HMAC-SHA256 with SECRET_KEY): web sign-in links, session cookies, CSRF tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

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


def unsign(secret: str, purpose: str, value: str, *, count: int) -> list[str]:
    """The `count` fields of a value we signed for `purpose`; BadSignature otherwise."""
    body, _, mac = value.strip().rpartition(".")
    fields = body.split(".")
    if (
        not body
        or len(fields) != count
        or not hmac.compare_digest(
            mac.encode("ascii", "replace"), _mac(secret, purpose, body).encode("ascii")
        )
    ):
        raise BadSignature(purpose)
    return fields


def mac_of(secret: str, purpose: str, value: str) -> str:
    """The signature alone (e.g. a CSRF token bound to a cookie's random value)."""
    return _mac(secret, purpose, value)


def _mac(secret: str, purpose: str, body: str) -> str:
    message = _CONTEXT + purpose.encode("utf-8") + b"\x00" + body.encode("utf-8")
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).digest()[:_MAC_BYTES]
    return base64.urlsafe_b64encode(digest).decode("ascii")
