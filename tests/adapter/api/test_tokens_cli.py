"""`closeloop token create|revoke`: printed once, stored hashed, revoked for good."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.actors import actor_by_email
from bot.cli import main
from bot.domain.vocab import Channel
from bot.services.access import revoke_access
from bot.settings import Settings
from handlers.api.tokens import staff_for_token, token_hash
from storage.db import transaction
from storage.models import ApiToken, AuditEvent, Staff
from tests.network import COORD, LEE, OFFICER


def test_create_prints_a_token_once_and_revoke_ends_it(
    network: sessionmaker[Session],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    assert main(["token", "create", "--staff", COORD.upper()]) == 0
    secret = capsys.readouterr().out.strip()
    with transaction(network) as session:
        token = session.scalars(select(ApiToken)).one()
        assert token.token_hash == token_hash(secret)
        staff = staff_for_token(session, secret)
        assert staff is not None and staff.email == COORD

    assert main(["token", "revoke", "--staff", COORD]) == 0
    assert capsys.readouterr().out.strip() == f"closeloop: revoked 1 token(s) of {COORD}"
    with transaction(network) as session:
        assert staff_for_token(session, secret) is None
        # Both are audited: by nobody on the network (an operator on the server), from the CLI.
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.action.like("api_token%")).order_by(AuditEvent.id)
        ).all()
        assert [(e.action, e.actor_id, e.channel, e.detail) for e in events] == [
            ("api_token_issued", None, "cli", {"staff": COORD}),
            ("api_tokens_revoked", None, "cli", {"staff": COORD, "count": 1}),
        ]


def test_a_token_for_nobody_is_refused(
    network: sessionmaker[Session],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    assert main(["token", "create", "--staff", "nobody@example.org"]) == 1
    assert "No staff member has the address nobody@example.org." in capsys.readouterr().err


def test_access_restore_from_the_cli_gives_back_removed_access(
    network: sessionmaker[Session],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:

    with transaction(network) as session:
        revoke_access(
            session, actor=actor_by_email(session, OFFICER), staff_email=LEE, channel=Channel.API
        )
    monkeypatch.setenv("DATABASE_URL", settings.database_url)

    assert main(["access", "restore", "--staff", LEE]) == 0
    assert capsys.readouterr().out.startswith("closeloop: Lee Park's access is restored;")
    with transaction(network) as session:
        lee = session.scalars(select(Staff).where(Staff.email == LEE)).one()
        assert (lee.active, lee.access_removed_at) == (True, None)
    assert main(["access", "restore", "--staff", "nobody@example.org"]) == 1
    assert "No staff member has the address nobody@example.org." in capsys.readouterr().err
