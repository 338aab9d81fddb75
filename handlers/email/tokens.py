"""Signed reply tokens: who a notification was sent to and about what, carried in Reply-To."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from bot.errors import UserError

SubjectKind = Literal["r", "d"]

_VERSION = 1
# version, subject kind, staff id, subject id, issue day (days since 1970), lifetime in days
_PAYLOAD = struct.Struct(">BcIIHH")
# 14 payload bytes + 11 MAC bytes = 25 bytes, a multiple of 5, so base32 needs no padding.
_MAC_BYTES = 11
_TOKEN_BYTES = _PAYLOAD.size + _MAC_BYTES
TOKEN_LENGTH = _TOKEN_BYTES * 8 // 5
_EPOCH = date(1970, 1, 1)
# Keeps a signature over a reply token from being valid for anything else signed with the secret.
_CONTEXT = b"closeloop-reply-token\x00"
_MAX_LOCAL_PART = 64
_TOKEN_IN_ADDRESS = re.compile(r"\+([a-z2-7]+)@", re.IGNORECASE)


@dataclass(frozen=True)
class TokenClaims:
    """What a valid token says: the staff member it was sent to, about which referral or digest."""

    staff_id: int
    subject_kind: SubjectKind
    subject_id: int
    issued: date
    expires: datetime


class TokenError(UserError):
    """A reply token that cannot be trusted; the message is written for the person who replied."""

    status = 403


class MalformedToken(TokenError):
    """The address does not carry a token we could have written (cut, altered by a mail system)."""


class BadSignature(TokenError):
    """The token was not signed with our secret: altered, forged, or from another installation."""


class ExpiredToken(TokenError):
    """The token is genuine but older than its lifetime."""

    def __init__(self, message: str, *, expired: datetime, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.expired = expired


def make_token(
    secret: str,
    *,
    staff_id: int,
    subject_kind: str,
    subject_id: int,
    issued: datetime,
    ttl_days: int = 60,
) -> str:
    """A lower-case base32 token (40 characters) binding a staff member to a referral or digest."""
    if not secret:
        raise ValueError("the signing secret is empty")
    if subject_kind not in ("r", "d"):
        raise ValueError(
            f"subject_kind must be 'r' (referral) or 'd' (digest), not {subject_kind!r}"
        )
    for name, value in (("staff_id", staff_id), ("subject_id", subject_id)):
        if not 0 <= value <= 0xFFFFFFFF:
            raise ValueError(f"{name} {value} does not fit in a reply token")
    if not 1 <= ttl_days <= 0xFFFF:
        raise ValueError(f"ttl_days must be between 1 and 65535, not {ttl_days}")
    day = (_utc(issued).date() - _EPOCH).days
    if not 0 <= day <= 0xFFFF:
        raise ValueError(f"issue date {issued.date()} cannot be encoded")
    payload = _PAYLOAD.pack(
        _VERSION, subject_kind.encode("ascii"), staff_id, subject_id, day, ttl_days
    )
    raw = payload + _mac(secret, payload)
    return base64.b32encode(raw).decode("ascii").lower()


def check_token(keys: str | Sequence[str], token: str, *, now: datetime) -> TokenClaims:
    """The claims of a token signed with one of `keys` (SECRET_KEY, then the previous key during
    a rotation) that has not expired; raises a TokenError otherwise."""
    secrets = (keys,) if isinstance(keys, str) else tuple(keys)
    if not secrets or not all(secrets):
        raise ValueError("the signing secret is empty")
    text = token.strip().upper()
    if len(text) != TOKEN_LENGTH:
        raise MalformedToken(
            "The reply address of your message is incomplete, so we cannot tell what it answers.",
            hint="Reply to the notification itself, keeping its Reply-To address unchanged.",
        )
    try:
        raw = base64.b32decode(text)
    except (binascii.Error, ValueError):
        raise MalformedToken(
            "The reply address of your message was changed, so we cannot tell what it answers.",
            hint="Reply to the notification itself, keeping its Reply-To address unchanged.",
        ) from None
    payload, signature = raw[: _PAYLOAD.size], raw[_PAYLOAD.size :]
    if not any(hmac.compare_digest(signature, _mac(key, payload)) for key in secrets):
        raise BadSignature(
            "The reply address of your message is not one this referral network gave out.",
            hint="Reply to a notification you received from us, or use Slack.",
        )
    version, kind, staff_id, subject_id, day, ttl_days = _PAYLOAD.unpack(payload)
    subject_kind = kind.decode("ascii")
    if version != _VERSION or subject_kind not in ("r", "d"):
        # Signed by us, so only a newer or older format can get here.
        raise MalformedToken(
            "The reply address of your message comes from a format we no longer read.",
            hint="Reply to a more recent notification, or use Slack.",
        )
    issued = _EPOCH + timedelta(days=day)
    # Valid to the end of the day `ttl_days` after issue (UTC): never shorter than promised.
    expires = datetime.combine(issued + timedelta(days=ttl_days + 1), datetime.min.time(), UTC)
    if _utc(now) >= expires:
        raise ExpiredToken(
            f"The notification you replied to is more than {ttl_days} days old, so replies to it "
            "are no longer accepted.",
            expired=expires,
            hint="Reply to a more recent notification, or use Slack.",
        )
    return TokenClaims(
        staff_id=staff_id,
        subject_kind="r" if subject_kind == "r" else "d",
        subject_id=subject_id,
        issued=issued,
        expires=expires,
    )


def reply_address(base: str, token: str) -> str:
    """`replies+TOKEN@domain` from the REPLY_TO setting `replies@domain`."""
    local, at, domain = base.strip().rpartition("@")
    if not at or not local or not domain:
        raise ValueError(f"REPLY_TO must be an address like replies@example.org, not {base!r}")
    if "+" in local:
        raise ValueError(f"REPLY_TO must not already contain a '+' part: {base!r}")
    tagged = f"{local}+{token}"
    if len(tagged) > _MAX_LOCAL_PART:
        # RFC 5321 limit; longer local parts are refused or truncated by some servers.
        raise ValueError(
            f"REPLY_TO's local part {local!r} is too long to carry a token "
            f"(at most {_MAX_LOCAL_PART - TOKEN_LENGTH - 1} characters)"
        )
    return f"{tagged}@{domain}"


def token_from_address(address: str) -> str | None:
    """The token in a `replies+TOKEN@domain` address, or None when the `+` part is missing."""
    match = _TOKEN_IN_ADDRESS.search(address)
    return match.group(1).lower() if match else None


def _mac(secret: str, payload: bytes) -> bytes:
    digest = hmac.new(secret.encode("utf-8"), _CONTEXT + payload, hashlib.sha256).digest()
    return digest[:_MAC_BYTES]


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("datetimes for reply tokens must be timezone-aware")
    return moment.astimezone(UTC)
