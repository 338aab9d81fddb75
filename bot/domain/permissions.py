"""Who may do what: every use case asks these before it changes anything."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from bot.domain.vocab import Role
from bot.errors import Forbidden

USER_MOU_VALID_DAYS = 366


@dataclass(frozen=True)
class Grant:
    role: Role
    program_id: int | None = None
    agency_id: int | None = None
    # For coordinators: the county served; None means every county (a statewide coordinator).
    county_id: int | None = None


@dataclass(frozen=True)
class Actor:
    """The acting staff member as the rules see them."""

    staff_id: int
    name: str
    email: str
    active: bool
    user_mou_signed_on: date | None
    grants: tuple[Grant, ...]
    # The local day access was removed, when it was (named in the refusal).
    removed_on: date | None = None
    agency_id: int | None = None

    def has(self, role: Role, *, program_id: int | None = None) -> bool:
        return any(
            g.role == role and (program_id is None or g.program_id == program_id)
            for g in self.grants
        )

    @property
    def is_admin(self) -> bool:
        return self.has(Role.ADMIN)

    def programs(self, *roles: Role) -> set[int]:
        return {g.program_id for g in self.grants if g.role in roles and g.program_id is not None}

    def coordinates(self, county_ids: Iterable[int], statewide: bool) -> bool:
        """Whether the actor is a coordinator for a referral with these counties."""
        grants = [g for g in self.grants if g.role == Role.COORDINATOR]
        if any(g.county_id is None for g in grants):
            return True
        if statewide:
            return bool(grants)
        wanted = set(county_ids)
        return any(g.county_id in wanted for g in grants)


def require_may_act(actor: Actor, today: date) -> None:
    """An inactive account, or one whose yearly user MOU lapsed, can do nothing."""
    if not actor.active:
        when = f" on {actor.removed_on.isoformat()}" if actor.removed_on else ""
        raise Forbidden(
            f"Your closeloop access was removed{when}.",
            hint="Ask your agency's security officer if you need it back.",
        )
    signed = actor.user_mou_signed_on
    if signed is None or today - signed > timedelta(days=USER_MOU_VALID_DAYS):
        raise Forbidden(
            "Your yearly user agreement (user MOU) is not signed.",
            hint="Sign it with /referral agreement sign in Slack, or on the web at /agreement, "
            "then try again.",
        )


def require_coordinator(actor: Actor) -> None:
    if not (actor.has(Role.COORDINATOR) or actor.is_admin):
        raise Forbidden("Only coordinators create and publish referrals.")


def require_owner(actor: Actor, *, number: str, primary_coordinator_id: int, what: str) -> None:
    """Lifecycle changes belong to the referral's primary coordinator (or an admin)."""
    if actor.staff_id != primary_coordinator_id and not actor.is_admin:
        raise Forbidden(
            f"Only the primary coordinator of {number} or an admin can {what} it.",
        )


def require_gatekeeper(actor: Actor, *, program_id: int, program_name: str) -> None:
    if not actor.has(Role.GATEKEEPER, program_id=program_id):
        raise Forbidden(f"Only a gatekeeper of {program_name} can assign its referrals.")


def require_may_work(
    actor: Actor, *, program_id: int, program_name: str, assignee_id: int | None, number: str
) -> None:
    """Responding, status and notes: a gatekeeper of the program, or the assigned provider."""
    if actor.has(Role.GATEKEEPER, program_id=program_id):
        return
    if actor.has(Role.PROVIDER, program_id=program_id):
        if assignee_id == actor.staff_id:
            return
        raise Forbidden(
            f"{number} is not assigned to you at {program_name}.",
            hint="Ask a gatekeeper of the program to assign it to you.",
        )
    raise Forbidden(f"You have no role at {program_name}, so you cannot act on {number} there.")


def require_may_suspend(actor: Actor, *, program_id: int, program_name: str) -> None:
    if not (actor.is_admin or actor.has(Role.GATEKEEPER, program_id=program_id)):
        raise Forbidden(f"Only a gatekeeper of {program_name} or an admin can change its status.")


def may_see_referral(
    actor: Actor,
    *,
    primary_coordinator_id: int,
    county_ids: Iterable[int],
    statewide: bool,
    recipients: Iterable[tuple[int, int | None]],
) -> bool:
    """People with a role on the referral: its coordinators, the gatekeepers of its recipient
    programs, and the provider each program assigned it to. `recipients` is (program, assignee)."""
    if actor.is_admin or actor.staff_id == primary_coordinator_id:
        return True
    if actor.coordinates(county_ids, statewide):
        return True
    gatekeeping = actor.programs(Role.GATEKEEPER)
    providing = actor.programs(Role.PROVIDER)
    return any(
        program_id in gatekeeping or (program_id in providing and assignee_id == actor.staff_id)
        for program_id, assignee_id in recipients
    )
