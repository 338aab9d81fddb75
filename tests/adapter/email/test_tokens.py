"""Reply tokens: signed, compact, case-insensitive, and refused when altered or too old."""

from __future__ import annotations

import re
import string
from datetime import UTC, date, datetime, timedelta

import pytest

from handlers.email.tokens import (
    TOKEN_LENGTH,
    BadSignature,
    ExpiredToken,
    MalformedToken,
    TokenClaims,
    check_token,
    make_token,
    reply_address,
    token_from_address,
)

SECRET = "test-secret-0123456789abcdef"
ISSUED = datetime(2026, 3, 10, 22, 45, tzinfo=UTC)


def token(**overrides: object) -> str:
    arguments: dict[str, object] = {
        "staff_id": 42,
        "subject_kind": "r",
        "subject_id": 123456,
        "issued": ISSUED,
    }
    arguments.update(overrides)
    return make_token(SECRET, **arguments)  # type: ignore[arg-type]


def test_roundtrip_returns_the_claims() -> None:
    claims = check_token(SECRET, token(), now=ISSUED + timedelta(days=1))

    assert claims == TokenClaims(
        staff_id=42,
        subject_kind="r",
        subject_id=123456,
        issued=date(2026, 3, 10),
        expires=datetime(2026, 5, 10, tzinfo=UTC),
    )


def test_digest_tokens_and_extreme_ids_roundtrip() -> None:
    made = token(staff_id=0xFFFFFFFF, subject_kind="d", subject_id=0, ttl_days=30)

    claims = check_token(SECRET, made, now=ISSUED)

    assert (claims.staff_id, claims.subject_kind, claims.subject_id) == (0xFFFFFFFF, "d", 0)
    assert claims.expires == datetime(2026, 4, 10, tzinfo=UTC)


def test_token_is_forty_lowercase_base32_characters_and_fits_a_local_part() -> None:
    made = token(staff_id=4_000_000_000, subject_id=4_000_000_000)
    address = reply_address("replies@closeloop.example.org", made)

    assert len(made) == TOKEN_LENGTH == 40
    assert set(made) <= set(string.ascii_lowercase + "234567")
    assert address == f"replies+{made}@closeloop.example.org"
    assert len(address.split("@")[0]) == 48


def test_case_is_ignored_because_some_mail_systems_change_it() -> None:
    made = token()

    assert check_token(SECRET, made.upper(), now=ISSUED).staff_id == 42
    assert check_token(SECRET, f"  {made.title()}\n", now=ISSUED).staff_id == 42


@pytest.mark.parametrize("position", [0, 13, 20, 39])
def test_any_altered_character_breaks_the_signature(position: int) -> None:
    made = token()
    replacement = "a" if made[position] != "a" else "b"
    altered = made[:position] + replacement + made[position + 1 :]

    with pytest.raises(BadSignature) as caught:
        check_token(SECRET, altered, now=ISSUED)
    assert caught.value.status == 403
    assert "not one this referral network gave out" in str(caught.value)


def test_a_token_from_another_secret_is_refused() -> None:
    with pytest.raises(BadSignature):
        check_token("another-installation-secret", token(), now=ISSUED)


@pytest.mark.parametrize("text", ["", "abc", token()[:-1], token() + "a", "1" * 40, "a" * 39 + "!"])
def test_malformed_tokens(text: str) -> None:
    with pytest.raises(MalformedToken) as caught:
        check_token(SECRET, text, now=ISSUED)
    assert "Reply to the notification itself" in str(caught.value)


def test_valid_to_the_end_of_the_last_day_then_expired() -> None:
    made = token(ttl_days=60)
    last_moment = datetime(2026, 5, 9, 23, 59, 59, tzinfo=UTC)

    assert check_token(SECRET, made, now=last_moment).subject_id == 123456
    with pytest.raises(ExpiredToken) as caught:
        check_token(SECRET, made, now=last_moment + timedelta(seconds=1))
    assert caught.value.expired == datetime(2026, 5, 10, tzinfo=UTC)
    assert "more than 60 days old" in str(caught.value)


def test_expiry_compares_instants_not_wall_clocks() -> None:
    made = token(ttl_days=1)  # expires 2026-03-12 00:00 UTC

    east = datetime.fromisoformat("2026-03-12T01:30:00+02:00")  # 2026-03-11 23:30 UTC
    west = datetime.fromisoformat("2026-03-11T20:30:00-04:00")  # 2026-03-12 00:30 UTC

    assert check_token(SECRET, made, now=east).staff_id == 42
    with pytest.raises(ExpiredToken):
        check_token(SECRET, made, now=west)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"subject_kind": "x"}, "subject_kind must be 'r' (referral) or 'd' (digest)"),
        ({"staff_id": -1}, "staff_id -1 does not fit"),
        ({"subject_id": 2**32}, "subject_id 4294967296 does not fit"),
        ({"ttl_days": 0}, "ttl_days must be between 1 and 65535"),
        ({"issued": datetime(2026, 3, 10)}, "must be timezone-aware"),
    ],
)
def test_make_token_refuses_what_it_cannot_encode(
    overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        token(**overrides)


def test_empty_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="secret is empty"):
        make_token("", staff_id=1, subject_kind="r", subject_id=1, issued=ISSUED)


@pytest.mark.parametrize(
    ("base", "message"),
    [
        ("replies", "REPLY_TO must be an address like replies@example.org"),
        ("replies+x@example.org", "must not already contain a '+' part"),
        ("r" * 24 + "@example.org", "too long to carry a token (at most 23 characters)"),
    ],
)
def test_reply_address_refuses_bad_bases(base: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        reply_address(base, token())
    assert message in str(caught.value)


def test_token_from_address() -> None:
    made = token()

    assert token_from_address(f"Replies+{made.upper()}@Example.org") == made
    assert token_from_address(f"<replies+{made}@example.org>") == made
    assert token_from_address("replies@example.org") is None
