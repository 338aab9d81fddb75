"""Access requests decided by the agency's security officer, and revocation at once."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.actors import actor_by_email, staff_by_email
from bot.domain.permissions import Actor
from bot.domain.vocab import Channel, Role
from bot.errors import Conflict, Forbidden, InvalidInput, NotFound
from bot.services.access import (
    AccessRequestResult,
    agency_roles,
    decide_access_request,
    pending_access_requests,
    request_access,
    restore_access,
    revoke_access,
)
from bot.services.directory import import_directory, parse_directory
from handlers.api.tokens import issue_token, staff_for_token
from storage.db import transaction
from storage.models import AccessRequest, ApiToken, AuditEvent, OutboxMessage, RoleGrant
from tests.conftest import row_counts
from tests.network import ADMIN, BEN, DANA, GK_HOME, GK_OZARK, LEE, OFFICER, small_network

API = Channel.API
Sessions = sessionmaker[Session]


def ask(
    sessions: Sessions, who: str = DANA, role: str = "gate", program: str = "heartland-res"
) -> AccessRequestResult:
    with transaction(sessions) as s:
        return request_access(
            s, actor=actor_by_email(s, who), role=role, program=program, channel=API
        )


def decide(
    sessions: Sessions, request_id: int, approve: bool, who: str = OFFICER, note: str | None = None
) -> AccessRequestResult:
    with transaction(sessions) as s:
        return decide_access_request(
            s,
            actor=actor_by_email(s, who),
            request_id=request_id,
            approve=approve,
            channel=API,
            note=note,
        )


def outbox(sessions: Sessions, kind: str) -> list[OutboxMessage]:
    with transaction(sessions) as s:
        rows = s.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)
        )
        return list(rows)


def actions(sessions: Sessions) -> list[str]:
    with transaction(sessions) as s:
        return list(s.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def counts(sessions: Sessions) -> dict[str, int]:
    with transaction(sessions) as s:
        return row_counts(s)


def grants(sessions: Sessions, email: str) -> set[tuple[str, str | None]]:
    with transaction(sessions) as s:
        rows = s.scalars(
            select(RoleGrant)
            .join(RoleGrant.staff)
            .where(RoleGrant.revoked_at.is_(None), RoleGrant.staff.has(email=email))
        )
        return {(str(g.role), g.program.key if g.program else None) for g in rows}


def test_request_then_approve_grants_the_role_and_tells_both_sides(
    network: Sessions, as_staff: Callable[[Session, str], Actor]
) -> None:
    asked = ask(network)

    assert (asked.status, asked.role, asked.program, asked.changed) == (
        "pending",
        "gatekeeper",
        "Heartland Residential",
        True,
    )
    assert asked.summary == (
        "Asked to be a gatekeeper of Heartland Residential; your agency's security officer "
        "has been told."
    )
    [offer] = outbox(network, "access_requested")
    assert offer.address == OFFICER
    assert offer.payload["request_id"] == asked.request_id
    assert (offer.payload["requester"], offer.payload["role"], offer.payload["program"]) == (
        "Dana Ruiz",
        "gatekeeper",
        "Heartland Residential",
    )
    assert offer.payload["no_officer"] is False
    assert ("gatekeeper", "heartland-res") not in grants(network, DANA)

    approved = decide(network, asked.request_id, True, note="covering for Grace")

    assert (approved.status, approved.changed, approved.decided_by) == (
        "approved",
        True,
        "Helen Ward",
    )
    assert approved.summary == (
        "Dana Ruiz's request to be a gatekeeper of Heartland Residential was approved by "
        "Helen Ward on 2026-03-02."
    )
    assert ("gatekeeper", "heartland-res") in grants(network, DANA)
    [told] = outbox(network, "access_decided")
    assert told.address == DANA
    assert told.payload["approved"] is True
    assert told.payload["decided_by"] == "Helen Ward"
    assert told.payload["note"] == "covering for Grace"
    assert actions(network)[-2:] == ["access_requested", "access_approved"]
    with transaction(network) as s:
        dana = actor_by_email(s, DANA)
        assert dana.has(
            Role.GATEKEEPER,
            program_id=s.scalar(
                select(AccessRequest.program_id).where(AccessRequest.id == asked.request_id)
            ),
        )
        event = s.scalar(select(AuditEvent).where(AuditEvent.action == "access_approved"))
        assert event is not None and event.actor is not None
        assert event.actor.email == OFFICER
        assert event.detail["staff"] == DANA and event.detail["role"] == "gatekeeper"


def test_deny_grants_nothing_and_tells_the_requester(network: Sessions) -> None:
    asked = ask(network, LEE, "gatekeeper", "Heartland Day")

    denied = decide(network, asked.request_id, False, note="Grace covers Day")

    assert (denied.status, denied.changed) == ("denied", True)
    assert ("gatekeeper", "heartland-day") not in grants(network, LEE)
    [told] = outbox(network, "access_decided")
    assert (told.address, told.payload["approved"], told.payload["note"]) == (
        LEE,
        False,
        "Grace covers Day",
    )
    assert actions(network)[-1] == "access_denied"


@pytest.mark.parametrize(
    ("role", "program", "message"),
    [
        (
            "coordinator",
            "heartland-res",
            "Heartland Residential does not offer the coordinator role: that role covers a set "
            "of counties and is given in the directory, so the request was not made. A program "
            "offers: gatekeeper, provider. Ask again for one of them.",
        ),
        (
            "security officer",
            "Heartland Residential",
            "Heartland Residential does not offer the security officer role: that role covers "
            "an agency and is given in the directory, so the request was not made. A program "
            "offers: gatekeeper, provider. Ask again for one of them.",
        ),
        (
            "janitor",
            "heartland-res",
            '"janitor" is not a role I know. Choose one of: coordinator, gatekeeper, provider, '
            "security_officer, admin.",
        ),
        (
            "gatekeeper",
            "heartland",
            '"heartland" could be more than one program. Say which: Heartland Day '
            "(heartland-day), Heartland Residential (heartland-res).",
        ),
        (
            "gatekeeper",
            "nowhere",
            '"nowhere" is not a program in the directory. Use the program\'s key or its full name.',
        ),
    ],
)
def test_a_request_that_cannot_be_granted_is_refused_as_a_whole_and_writes_nothing(
    network: Sessions, role: str, program: str, message: str
) -> None:
    before = counts(network)
    with pytest.raises(InvalidInput) as caught:
        ask(network, DANA, role, program)
    assert str(caught.value) == message
    assert caught.value.field in ("role", "program")
    assert counts(network) == before


def test_a_role_already_held_or_already_asked_for_or_at_another_agency_is_refused(
    network: Sessions,
) -> None:
    with pytest.raises(Conflict, match=r"You are already a provider of Heartland Residential\."):
        ask(network, DANA, "provider", "heartland-res")
    ask(network, DANA, "gatekeeper", "heartland-res")
    before = counts(network)
    with pytest.raises(Conflict) as caught:
        ask(network, DANA, "GATE", "Heartland Residential")
    assert caught.value.message == (
        "You already asked to be a gatekeeper of Heartland Residential on 2026-03-02; the "
        "request is waiting for your agency's security officer."
    )
    with pytest.raises(Forbidden, match="belongs to another agency than yours"):
        ask(network, DANA, "provider", "ozark-beh")
    assert counts(network) == before


@pytest.mark.parametrize("who", [GK_HOME, ADMIN, DANA, GK_OZARK])
def test_only_the_agencys_security_officer_decides(network: Sessions, who: str) -> None:
    asked = ask(network)
    before = counts(network)
    with pytest.raises(Forbidden) as caught:
        decide(network, asked.request_id, True, who=who)
    expected = (
        "You cannot decide your own access request."
        if who == DANA
        else "Only a security officer of Heartland Community Living can decide this request."
    )
    assert caught.value.message == expected
    assert counts(network) == before
    assert ("gatekeeper", "heartland-res") not in grants(network, DANA)


def test_a_second_decision_says_what_happened_and_changes_nothing(network: Sessions) -> None:
    asked = ask(network)
    decide(network, asked.request_id, True)
    before = counts(network)

    again = decide(network, asked.request_id, False)

    assert (again.changed, again.status, again.decided_by) == (False, "approved", "Helen Ward")
    assert again.summary.endswith("was approved by Helen Ward on 2026-03-02.")
    assert counts(network) == before
    assert ("gatekeeper", "heartland-res") in grants(network, DANA)
    with pytest.raises(NotFound, match="There is no access request 999"):
        decide(network, 999, True)


def test_without_a_security_officer_the_admins_are_told(network: Sessions) -> None:
    asked = ask(network, BEN, "gatekeeper", "ozark-beh")
    assert asked.summary == (
        "Asked to be a gatekeeper of Ozark Behaviour; your agency has no security officer yet, "
        "so the network admins have been told."
    )
    [told] = outbox(network, "access_requested")
    assert (told.address, told.payload["no_officer"]) == (ADMIN, True)
    # The admins are told so they appoint an officer; they do not decide themselves.
    with pytest.raises(Forbidden):
        decide(network, asked.request_id, True, who=ADMIN)


def test_the_officers_queue_and_the_agency_review(network: Sessions) -> None:
    first = ask(network, DANA)
    second = ask(network, LEE, "gatekeeper", "heartland-day")
    with transaction(network) as s:
        queue = pending_access_requests(s, actor=actor_by_email(s, OFFICER))
        assert [r.request_id for r in queue] == [first.request_id, second.request_id]
        assert queue[0].summary == (
            "Dana Ruiz (dana@heartland.example.org) asks to be a gatekeeper of Heartland "
            "Residential (since 2026-03-02)."
        )
        with pytest.raises(Forbidden, match="Only security officers"):
            pending_access_requests(s, actor=actor_by_email(s, GK_HOME))

        rows = agency_roles(s, actor=actor_by_email(s, OFFICER), agency="heartland")
        assert [(r.name, r.role, r.scope) for r in rows] == [
            ("Dana Ruiz", "provider", "Heartland Residential"),
            ("Grace Holt", "gatekeeper", "Heartland Day"),
            ("Grace Holt", "gatekeeper", "Heartland Residential"),
            ("Helen Ward", "security officer", "Heartland Community Living"),
            ("Lee Park", "provider", "Heartland Day"),
            ("Lee Park", "provider", "Heartland Residential"),
        ]
        assert (
            len(agency_roles(s, actor=actor_by_email(s, ADMIN), agency="Ozark Family Supports"))
            == 3
        )
        with pytest.raises(Forbidden, match="Only a security officer of Ozark Family Supports"):
            agency_roles(s, actor=actor_by_email(s, OFFICER), agency="ozark")


def test_revocation_removes_every_role_token_and_waiting_request_at_once(
    network: Sessions,
) -> None:
    waiting = ask(network, LEE, "gatekeeper", "heartland-day")
    with transaction(network) as s:
        secret = issue_token(s, email=LEE)

    with transaction(network) as s:
        result = revoke_access(
            s,
            actor=actor_by_email(s, OFFICER),
            staff_email="LEE@heartland.example.org ",
            channel=API,
            reason="left the agency",
        )

    assert (
        result.changed,
        result.roles_revoked,
        result.tokens_revoked,
        result.requests_closed,
    ) == (
        True,
        2,
        1,
        1,
    )
    assert result.summary == (
        "Lee Park's access is removed from now on: 2 role(s) and 1 API token(s) revoked, 1 "
        "waiting request(s) closed."
    )
    assert grants(network, LEE) == set()
    with transaction(network) as s:
        lee = staff_by_email(s, LEE)
        assert lee is not None and not lee.active and lee.access_removed_at is not None
        assert staff_for_token(s, secret) is None
        assert s.scalar(select(ApiToken.revoked_at)) is not None
        request = s.get(AccessRequest, waiting.request_id)
        assert request is not None and (request.status, request.note) == (
            "denied",
            "access removed",
        )
        with pytest.raises(Forbidden) as caught:
            actor_by_email(s, LEE)
        assert str(caught.value) == (
            "Your closeloop access was removed on 2026-03-02. Ask your agency's security "
            "officer if you need it back."
        )
        event = s.scalar(select(AuditEvent).where(AuditEvent.action == "access_revoked"))
        assert event is not None
        assert event.detail["reason"] == "left the agency" and event.detail["staff"] == LEE
    [told] = outbox(network, "access_removed")
    assert (told.address, told.payload["removed_on"]) == (LEE, "2026-03-02")
    assert "left the agency" not in str(told.payload)

    before = counts(network)
    with transaction(network) as s:
        again = revoke_access(s, actor=actor_by_email(s, ADMIN), staff_email=LEE, channel=API)
    assert (again.changed, again.summary) == (
        False,
        "Lee Park's access was already removed on 2026-03-02.",
    )
    assert counts(network) == before


@pytest.mark.parametrize(
    ("who", "target", "message"),
    [
        (
            GK_HOME,
            DANA,
            "Only a security officer of Dana Ruiz's agency or an admin can remove access.",
        ),
        (
            OFFICER,
            BEN,
            "Only a security officer of Ben Carter's agency or an admin can remove access.",
        ),
        (OFFICER, OFFICER, "You cannot remove your own access."),
        (OFFICER, "nobody@example.org", "No staff member has the address nobody@example.org."),
    ],
)
def test_revocation_is_refused_to_others_and_changes_nothing(
    network: Sessions, who: str, target: str, message: str
) -> None:
    before = counts(network)
    with transaction(network) as s, pytest.raises((Forbidden, NotFound)) as caught:
        revoke_access(s, actor=actor_by_email(s, who), staff_email=target, channel=API)
    assert str(caught.value).startswith(message)
    assert counts(network) == before


def test_an_admin_may_revoke_anyone(network: Sessions) -> None:
    with transaction(network) as s:
        result = revoke_access(s, actor=actor_by_email(s, ADMIN), staff_email=BEN, channel=API)
    assert result.changed and grants(network, BEN) == set()


def _reimport(sessions: Sessions) -> str:

    with transaction(sessions) as s:
        result = import_directory(
            s, directory=parse_directory(small_network(), source="test.json"), source="test.json"
        )
    return result.summary()


def test_a_directory_import_neither_restores_removed_access_nor_drops_approved_roles(
    network: Sessions,
) -> None:
    approved = ask(network, DANA)
    decide(network, approved.request_id, True)
    with transaction(network) as s:
        revoke_access(
            s, actor=actor_by_email(s, OFFICER), staff_email=LEE, channel=API, reason="left"
        )

    # The nightly import of the unchanged file lists Lee as active with two roles.
    said = _reimport(network)

    assert said == (
        "Directory unchanged. Access stays removed for lee@heartland.example.org: a file "
        "cannot undo a removal; restore with `closeloop access restore --staff EMAIL`."
    )
    assert grants(network, LEE) == set()
    with transaction(network) as s:
        lee = staff_by_email(s, LEE)
        assert lee is not None and lee.active is False
    # Dana's role came from her approved request, which the file does not know about.
    assert ("gatekeeper", "heartland-res") in grants(network, DANA)


def test_an_operator_restores_removed_access_and_the_next_import_brings_the_roles_back(
    network: Sessions,
) -> None:
    with transaction(network) as s:
        revoke_access(s, actor=actor_by_email(s, OFFICER), staff_email=LEE, channel=API)

    with transaction(network) as s:
        said = restore_access(s, staff_email=" Lee@heartland.example.org", channel=Channel.CLI)
    assert said == (
        "Lee Park's access is restored; their roles return with the next directory import or "
        "when a security officer approves a request."
    )
    assert _reimport(network) == "Directory imported: 2 roles created."
    assert grants(network, LEE) == {("provider", "heartland-res"), ("provider", "heartland-day")}
    with transaction(network) as s:
        assert actor_by_email(s, LEE).removed_on is None
        assert restore_access(s, staff_email=LEE, channel=Channel.CLI) == (
            "Lee Park has access; nothing changed."
        )
    assert actions(network)[-2:] == ["access_restored", "directory_imported"]
    with transaction(network) as s, pytest.raises(NotFound):
        restore_access(s, staff_email="nobody@example.org", channel=Channel.CLI)
