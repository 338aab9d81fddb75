"""`closeloop email parse` prints what the listener reads; every email kind renders as text and
HTML with the reply line for people who can act, and without client data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from bot.delivery import Notification
from bot.settings import Settings
from bot.texts import TEMPLATES
from handlers.email.reading import to_json
from handlers.email.render import EmailRenderer
from handlers.email.replies import read_inbound
from storage.db import make_session_factory
from tests.adapter.email.conftest import MAIL_FROM, REPLY_TO, SECRET, mail_settings

ROOT = Path(__file__).resolve().parents[3]
FIXTURE = ROOT / "tests" / "fixtures" / "email" / "replies" / "outlook_html_only.eml"


@pytest.mark.parametrize("source", ["file", "stdin"])
def test_email_parse_prints_what_the_listener_reads(
    engine: Engine, tmp_path: Path, source: str
) -> None:
    settings = mail_settings(engine)
    raw = FIXTURE.read_bytes()
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "MAIL_FROM": MAIL_FROM,
        "REPLY_TO": REPLY_TO,
        "SECRET_KEY": SECRET,
    }
    argument = str(FIXTURE) if source == "file" else "-"
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "email", "parse", argument],
        input=raw if source == "stdin" else None,
        capture_output=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed == to_json(read_inbound(raw, settings))
    assert printed["kind"] == "reply"
    assert printed["command"]["verb"] == "status"


BRIEF: dict[str, Any] = {
    "number": "R-2026-000042",
    "state": "open",
    "statewide": False,
    "counties": ["Boone County"],
    "where": "Boone County",
    "needs": [{"code": "RES", "name": "Residential support"}],
    "urgency": "urgent",
    "age_days": 3,
    "aging": False,
}
KIND_EXTRAS: dict[str, dict[str, Any]] = {
    "referral_published": {"program": "Heartland Residential", "programs": ["Heartland"]},
    "referral_republished": {"program": "Heartland Residential"},
    "program_joined": {"program": "Heartland Residential", "how": "resumed"},
    "referral_assigned": {"program": "P", "provider_name": "Dana Ruiz", "assigned_by": "Grace"},
    "referral_reassigned": {"program": "P", "provider_name": "Dana Ruiz", "assigned_by": "Grace"},
    "response_given": {
        "program": "P",
        "response": "decline",
        "reason": "no vacancy",
        "comment": "<full> until June",
        "responder": "Dana Ruiz",
        "version": 1,
    },
    "service_status_changed": {"program": "P", "status": "enrolled in services", "by": "Dana"},
    "referral_closed": {"program": "P", "outcome": "fully met", "outcome_reason": None},
    "referral_deleted": {"program": "P"},
}
KIND_EXTRAS["response_edited"] = {**KIND_EXTRAS["response_given"], "version": 2}


# Kinds with an HTML template of their own that are about no referral (tested where they are sent).
OTHER_HTML_KINDS = {"email_question", "sign_in_link"}


def referral_kinds() -> list[str]:
    found = (p.name.removesuffix(".html") for p in (TEMPLATES / "email").glob("[!_]*.html"))
    return sorted(k for k in set(found) - OTHER_HTML_KINDS if not k.startswith("access_"))


def test_every_referral_kind_has_an_html_template() -> None:
    assert referral_kinds() == sorted(KIND_EXTRAS)


@pytest.mark.parametrize("audience", ["gatekeeper", "provider", "coordinator"])
@pytest.mark.parametrize("kind", sorted(KIND_EXTRAS))
def test_referral_kinds_render_text_and_html(
    engine: Engine, settings: Settings, kind: str, audience: str
) -> None:
    renderer = EmailRenderer(make_session_factory(engine, settings=settings), mail_settings(engine))
    payload = {**BRIEF, **KIND_EXTRAS[kind], "audience": audience, "recipient_name": "Grace"}
    note = Notification(1, f"{kind}:e1:s1:email", "email", kind, "g@x.org", 1, 7, payload)

    email = renderer(note)

    assert "R-2026-000042" in email.subject
    assert email.html is not None and "R-2026-000042" in email.html
    assert "&lt;full&gt;" in email.html or "<full>" not in email.text
    acts = audience in ("gatekeeper", "provider") and "_act" in _source(kind)
    if kind == "program_joined":
        acts = True
    assert ("To answer, reply with one line" in email.text) == acts
    assert ("To answer, reply with one line" in email.html) == acts
    assert email.reply_to is not None and email.reply_to.startswith("replies+")
    assert email.message_id == renderer(note).message_id


def test_other_kinds_get_the_text_wrapped_as_html(engine: Engine, settings: Settings) -> None:
    renderer = EmailRenderer(make_session_factory(engine, settings=settings), mail_settings(engine))
    payload = {
        "recipient_name": "Network Admin",
        "failed_kind": "referral_published",
        "failed_channel": "email",
        "failed_address": "gone@x.org",
        "number": "R-2026-000042",
        "error": "550 <no such user>",
    }
    note = Notification(
        9, "delivery_failed:o1:s1:email", "email", "delivery_failed", "a@x", 3, None, payload
    )

    email = renderer(note)

    assert email.html is not None
    assert "550 &lt;no such user&gt;" in email.html
    assert "-- " not in email.html
    assert email.in_reply_to is None and list(email.references) == []


ACCESS = {
    "requester": "Dana <Ruiz>",
    "requester_email": "dana@heartland.example.org",
    "role": "gatekeeper",
    "program": "Heartland Residential",
    "program_key": "heartland-res",
    "agency": "Heartland Community Living",
    "request_id": 12,
    "requested_on": "2026-03-02",
}


@pytest.mark.parametrize(
    ("kind", "extra", "says"),
    [
        ("access_requested", {"no_officer": False}, "/referral access approve 12"),
        ("access_requested", {"no_officer": True}, "has no security officer who can decide it"),
        (
            "access_decided",
            {
                "approved": True,
                "decided_by": "Helen Ward",
                "decided_on": "2026-03-02",
                "note": None,
            },
            "Helen Ward approved your request to be a gatekeeper of Heartland Residential",
        ),
        (
            "access_decided",
            {
                "approved": False,
                "decided_by": "Helen Ward",
                "decided_on": "2026-03-02",
                "note": "n",
            },
            "Helen Ward denied your request",
        ),
        (
            "access_removed",
            {"removed_on": "2026-03-02", "agency": "Heartland Community Living"},
            "Your closeloop access was removed on 2026-03-02",
        ),
    ],
)
def test_access_kinds_render_text_and_html(
    engine: Engine, settings: Settings, kind: str, extra: dict[str, Any], says: str
) -> None:
    renderer = EmailRenderer(make_session_factory(engine, settings=settings), mail_settings(engine))
    payload = {**ACCESS, **extra, "recipient_name": "Helen"}
    note = Notification(3, f"{kind}:e1:s1:email", "email", kind, "h@x.org", 1, None, payload)

    email = renderer(note)

    assert says in email.text and email.subject.startswith("[closeloop] ")
    assert email.html is not None and "Hello Helen" in email.html
    if kind != "access_removed":
        assert "Dana &lt;Ruiz&gt;" in email.html or "Dana" not in email.text
    assert "To answer, reply with one line" not in email.text


def _source(kind: str) -> str:
    return (TEMPLATES / "email" / f"{kind}.txt").read_text()
