"""Recipient programs at work: assignment, responses with history, service status, notes."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.domain.permissions import Actor
from bot.domain.vocab import Channel, ResponseKind, ServiceStatus
from bot.errors import Conflict, Forbidden, InvalidInput, UserError
from bot.services import referrals, work
from storage.db import transaction
from storage.models import Note, OutboxMessage, ResponseVersion
from tests.conftest import row_counts
from tests.network import BEN, COORD, DANA, GK_HOME, GK_OZARK, LEE, STATEWIDE_COORD
from tests.service.helpers import published, recipients, sent

AsStaff = Callable[[Session, str], Actor]


def _clear_outbox(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as s:
        for row in s.scalars(select(OutboxMessage)):
            s.delete(row)


def _assign(
    sessions: sessionmaker[Session],
    as_staff: AsStaff,
    number: str,
    who: str,
    by: str = GK_HOME,
    **kw: object,
) -> work.WorkResult:
    with transaction(sessions) as s:
        return work.assign_referral(
            s, actor=as_staff(s, by), number=number, provider=who, channel=Channel.SLACK, **kw
        )  # type: ignore[arg-type]


def test_a_gatekeeper_assigns_and_the_provider_and_coordinator_are_told(
    network: sessionmaker[Session], as_staff: AsStaff
) -> None:
    number = published(network)
    _clear_outbox(network)
    result = _assign(network, as_staff, number, DANA)
    assert result.changed
    assert result.summary == f"{number} assigned to Dana Ruiz at Heartland Residential."
    with transaction(network) as s:
        assert recipients(s, number)["heartland-res"].assignee is not None
        assert recipients(s, number)["heartland-res"].assignee.email == DANA  # type: ignore[union-attr]
        assert sent(s) == [("referral_assigned", DANA), ("referral_assigned", COORD)]


def test_the_gatekeeper_who_assigns_to_themselves_is_not_told(
    network: sessionmaker[Session], as_staff: AsStaff
) -> None:
    number = published(network)
    _clear_outbox(network)
    # Grace is a gatekeeper, and gatekeepers may take a referral themselves.
    _assign(network, as_staff, number, GK_HOME)
    with transaction(network) as s:
        assert sent(s) == [("referral_assigned", COORD)]


def test_assigning_what_is_already_assigned_says_to_whom(
    network: sessionmaker[Session], as_staff: AsStaff
) -> None:
    number = published(network)
    _assign(network, as_staff, number, DANA)
    with transaction(network) as s:
        before = row_counts(s)
    with pytest.raises(Conflict) as caught, transaction(network) as s:
        work.assign_referral(
            s, actor=as_staff(s, GK_HOME), number=number, provider=LEE, channel=Channel.SLACK
        )
    assert (
        caught.value.message
        == f"{number} is already assigned to Dana Ruiz at Heartland Residential."
    )
    with transaction(network) as s:
        assert row_counts(s) == before


def test_assigning_again_to_the_same_provider_changes_nothing(
    network: sessionmaker[Session], as_staff: AsStaff
) -> None:
    number = published(network)
    _assign(network, as_staff, number, DANA)
    with transaction(network) as s:
        before = row_counts(s)
    assert not _assign(network, as_staff, number, DANA).changed
    with transaction(network) as s:
        assert row_counts(s) == before


def test_reassign_by_gatekeeper_and_handing_back_by_the_provider(
    network: sessionmaker[Session], as_staff: AsStaff
) -> None:
    number = published(network)
    _assign(network, as_staff, number, DANA)
    _clear_outbox(network)
    assert _assign(network, as_staff, number, LEE, reassign=True).summary == (
        f"{number} reassigned to Lee Park at Heartland Residential."
    )
    # Lee holds it and hands it on to Dana without a gatekeeper.
    assert _assign(network, as_staff, number, "Dana", by=LEE, reassign=True).changed
    with transaction(network) as s:
        assert recipients(s, number)["heartland-res"].assignee.email == DANA  # type: ignore[union-attr]
        assert sent(s) == [
            ("referral_reassigned", LEE),
            ("referral_reassigned", COORD),
            ("referral_reassigned", DANA),
            ("referral_reassigned", COORD),
        ]


def test_only_gatekeepers_assign_and_only_to_their_programs_providers(
    network: sessionmaker[Session], as_staff: AsStaff
) -> None:
    number = published(network)
    with (
        pytest.raises(Forbidden, match="Only a gatekeeper of Heartland Residential"),
        transaction(network) as s,
    ):
        work.assign_referral(
            s, actor=as_staff(s, DANA), number=number, provider=DANA, channel=Channel.SLACK
        )
    with pytest.raises(InvalidInput) as caught, transaction(network) as s:
        work.assign_referral(
            s, actor=as_staff(s, GK_HOME), number=number, provider=BEN, channel=Channel.SLACK
        )
    assert caught.value.message == "Ben Carter is not a provider of Heartland Residential."
    assert caught.value.hint == "Choose one of: Dana Ruiz, Grace Holt, Lee Park."


def test_responses_keep_every_version_and_tell_the_primary_coordinator(
    network: sessionmaker[Session], as_staff: AsStaff
) -> None:
    number = published(network)
    _assign(network, as_staff, number, DANA)
    _clear_outbox(network)
    with transaction(network) as s:
        result = work.respond_to_referral(
            s,
            actor=as_staff(s, DANA),
            number=number,
            kind="tentative",
            reason="fund",
            comment="waiting on approval",
            channel=Channel.EMAIL,
        )
    assert (
        result.summary
        == f"{number} tentatively accepted (pending funding approval) for Heartland Residential."
    )
    with transaction(network) as s:
        work.respond_to_referral(
            s, actor=as_staff(s, DANA), number=number, kind="accept", channel=Channel.SLACK
        )
    with transaction(network) as s:
        recipient = recipients(s, number)["heartland-res"]
        assert (recipient.response, recipient.response_reason, recipient.response_version) == (
            ResponseKind.ACCEPT,
            None,
            2,
        )
        versions = s.scalars(select(ResponseVersion).order_by(ResponseVersion.version)).all()
        assert [(v.version, v.kind, v.reason, v.comment, v.channel) for v in versions] == [
            (1, ResponseKind.TENTATIVE, "pending funding approval", "waiting on approval", "email"),
            (2, ResponseKind.ACCEPT, None, None, "slack"),
        ]
        assert sent(s) == [("response_given", COORD), ("response_edited", COORD)]


def test_a_repeated_response_counts_once(network: sessionmaker[Session], as_staff: AsStaff) -> None:
    number = published(network)
    _clear_outbox(network)
    for _ in range(2):
        with transaction(network) as s:
            result = work.respond_to_referral(
                s,
                actor=as_staff(s, GK_HOME),
                number=number,
                kind="decline",
                reason="no vacancy",
                program="heartland-res",
                channel=Channel.SLACK,
            )
    assert not result.changed
    with transaction(network) as s:
        assert len(s.scalars(select(ResponseVersion)).all()) == 1
        assert sent(s) == [("response_given", COORD)]


@pytest.mark.parametrize(
    ("kind", "reason", "field", "message"),
    [
        ("decline", None, "reason", "A decline needs a reason."),
        ("tentative", "", "reason", "A tentative acceptance needs a reason."),
        ("decline", "sunspots", "decline reason", '"sunspots" is not a decline reason I know.'),
        ("accept", "funding", "reason", "An acceptance takes no reason."),
        ("maybe", None, "response", '"maybe" is not a response I know.'),
    ],
)
def test_bad_responses_are_refused_and_change_nothing(
    network: sessionmaker[Session],
    as_staff: AsStaff,
    kind: str,
    reason: str | None,
    field: str,
    message: str,
) -> None:
    number = published(network)
    with transaction(network) as s:
        before = row_counts(s)
    with pytest.raises(UserError) as caught, transaction(network) as s:
        work.respond_to_referral(
            s,
            actor=as_staff(s, GK_HOME),
            number=number,
            kind=kind,
            reason=reason,
            program="heartland-res",
            channel=Channel.SLACK,
        )
    assert (caught.value.field, caught.value.message) == (field, message)
    with transaction(network) as s:
        assert row_counts(s) == before


def test_a_provider_not_assigned_cannot_respond(
    network: sessionmaker[Session], as_staff: AsStaff
) -> None:
    number = published(network)
    _assign(network, as_staff, number, DANA)
    with pytest.raises(UserError) as caught, transaction(network) as s:
        work.respond_to_referral(
            s, actor=as_staff(s, LEE), number=number, kind="accept", channel=Channel.EMAIL
        )
    assert caught.value.message == f"{number} is not assigned to you at Heartland Residential."
    # ...and, having no role on it, Lee does not see the client's details either.
    with pytest.raises(UserError) as caught, transaction(network) as s:
        referrals.view_referral(s, actor=as_staff(s, LEE), number=number, channel=Channel.EMAIL)
    assert caught.value.message == f"There is no referral {number} that you can see."


def test_a_provider_of_another_program_cannot_act(
    network: sessionmaker[Session], as_staff: AsStaff
) -> None:
    number = published(network, needs=["RES", "BEH"], counties=["Boone County"])
    with transaction(network) as s:
        assert sorted(recipients(s, number)) == ["heartland-res", "ozark-beh"]
    with pytest.raises(Forbidden) as caught, transaction(network) as s:
        work.respond_to_referral(
            s,
            actor=as_staff(s, GK_OZARK),
            number=number,
            kind="accept",
            program="heartland-res",
            channel=Channel.SLACK,
        )
    assert (
        caught.value.message
        == f"You have no role at Heartland Residential, so you cannot act on {number} there."
    )


def test_service_status_and_notes(network: sessionmaker[Session], as_staff: AsStaff) -> None:
    number = published(network)
    _assign(network, as_staff, number, DANA)
    _clear_outbox(network)
    with transaction(network) as s:
        result = work.set_service_status(
            s, actor=as_staff(s, DANA), number=number, status="enrolled", channel=Channel.SLACK
        )
        work.add_note(
            s,
            actor=as_staff(s, DANA),
            number=number,
            text="Left a voicemail for the guardian.",
            channel=Channel.EMAIL,
        )
    assert result.summary == f"{number} at Heartland Residential: enrolled in services."
    with transaction(network) as s:
        recipient = recipients(s, number)["heartland-res"]
        assert recipient.service_status == ServiceStatus.ENROLLED
        notes = s.scalars(select(Note)).all()
        assert [(n.text, n.channel, n.author.email) for n in notes] == [
            ("Left a voicemail for the guardian.", "email", DANA)
        ]
        assert sent(s) == [("service_status_changed", COORD)]


def test_lifecycle_pending_close_and_who_may_close(
    network: sessionmaker[Session], as_staff: AsStaff
) -> None:
    number = published(network)
    _clear_outbox(network)
    with pytest.raises(Forbidden), transaction(network) as s:
        referrals.close_referral(
            s,
            actor=as_staff(s, STATEWIDE_COORD),
            number=number,
            closing={"outcome": "fully met"},
            channel=Channel.SLACK,
        )
    with (
        pytest.raises(InvalidInput, match="Say why the need was not fully met"),
        transaction(network) as s,
    ):
        referrals.close_referral(
            s,
            actor=as_staff(s, COORD),
            number=number,
            closing={"outcome": "not met"},
            channel=Channel.SLACK,
        )
    with transaction(network) as s:
        referrals.mark_pending_placement(
            s, actor=as_staff(s, COORD), number=number, channel=Channel.SLACK
        )
        referrals.close_referral(
            s,
            actor=as_staff(s, COORD),
            number=number,
            closing={"outcome": "partially met", "reason": "no day program"},
            channel=Channel.SLACK,
        )
    with transaction(network) as s:
        assert sent(s) == [("referral_closed", GK_HOME), ("referral_closed", STATEWIDE_COORD)]
    with (
        pytest.raises(Conflict, match=f"{number} is closed, so it cannot be worked on"),
        transaction(network) as s,
    ):
        work.respond_to_referral(
            s, actor=as_staff(s, GK_HOME), number=number, kind="accept", channel=Channel.SLACK
        )
