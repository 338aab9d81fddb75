"""A fanout's emails rendered once and filled in per recipient are the bytes `render_email`
gives each recipient, whatever the names hold; anything unproven is rendered in full."""

from __future__ import annotations

from typing import Any

import pytest

from bot.email_texts import EmailTexts, slots
from bot.texts import TEMPLATES, render_email

BRIEF: dict[str, Any] = {
    "number": "R-2026-000042",
    "state": "open",
    "statewide": True,
    "counties": ["Boone County"],
    "where": "Statewide",
    "needs": [{"code": "RES", "name": "Residential support"}],
    "urgency": "urgent",
    "age_days": 3,
    "aging": False,
    "programs": ["Heartland", "Prairie & <Sons>"],
    "provider_name": "Dana Ruiz",
    "assigned_by": "Grace",
    "response": "decline",
    "reason": "no vacancy",
    "comment": "<full> until June",
    "responder": "Dana Ruiz",
    "version": 1,
    "status": "enrolled in services",
    "by": "Dana",
    "outcome": "fully met",
    "outcome_reason": None,
    "how": "resumed",
}
NAMES = [
    "Grace Hopper",
    "O'Brien & <Sons>",
    'Ana "Mari"  Lopez',
    "Zoë\tJones",
    "",
    " Padded ",
    "line\nbreak",
    "{{ not a template }}",
]
KINDS = sorted(p.name.removesuffix(".html") for p in (TEMPLATES / "email").glob("referral_*.html"))


@pytest.mark.parametrize("audience", ["gatekeeper", "provider", "coordinator"])
@pytest.mark.parametrize("kind", KINDS)
def test_a_fanout_gets_the_bytes_of_a_full_render(kind: str, audience: str) -> None:
    texts = EmailTexts()
    for number, name in enumerate(NAMES):
        payload = {
            **BRIEF,
            "audience": audience,
            "recipient_name": name,
            "program": f"Program {number} <{name}>",
            "program_key": f"p{number}",
        }
        got = texts(kind, payload, public_url="https://closeloop.example")
        assert got == render_email(kind, payload, public_url="https://closeloop.example")
    assert {"recipient_name", "program"} <= slots(kind)
    # Empty and padded names are rendered in full; each other recipient shares one content.
    assert len(texts) <= 3


def test_the_memo_is_bounded() -> None:
    texts = EmailTexts(size=2)
    for number in range(5):
        payload = {**BRIEF, "audience": "gatekeeper", "recipient_name": "G", "program": "P"}
        payload["number"] = str(number)
        assert texts("referral_published", payload) == render_email("referral_published", payload)
    assert len(texts) == 2


def test_a_variable_in_a_condition_or_the_subject_is_no_slot() -> None:
    published = slots("referral_published")
    assert "audience" not in published  # chooses the paragraph
    assert "where" not in published  # in the subject, whose spaces are collapsed
    assert "public_url" not in published  # through a filter


def test_a_payload_holding_a_marker_is_rendered_in_full() -> None:
    payload = {**BRIEF, "audience": "gatekeeper", "recipient_name": "G"}
    payload["program"] = "\x00recipient_name\x00"
    texts = EmailTexts()
    assert texts("referral_published", payload) == render_email("referral_published", payload)
    assert len(texts) == 0
