"""Access rules: which roles a program offers, and who decides, revokes and reviews access."""

from __future__ import annotations

from bot.domain.permissions import Actor
from bot.domain.vocab import Role
from bot.errors import Forbidden, InvalidInput

# A program offers the roles that work its referrals. The others have wider scopes and are
# given in the directory: coordinators serve counties, security officers an agency, admins the
# network; none of them is asked for on a program.
PROGRAM_ROLES: tuple[Role, ...] = (Role.GATEKEEPER, Role.PROVIDER)
_SCOPE_OF = {
    Role.COORDINATOR: "a set of counties",
    Role.SECURITY_OFFICER: "an agency",
    Role.ADMIN: "the whole network",
}


def require_program_role(role: Role, *, program_name: str) -> None:
    """A request for a role the program does not offer is refused as a whole."""
    if role in PROGRAM_ROLES:
        return
    offered = ", ".join(r.value for r in PROGRAM_ROLES)
    raise InvalidInput(
        f"{program_name} does not offer the {role.value.replace('_', ' ')} role: that role "
        f"covers {_SCOPE_OF[role]} and is given in the directory, so the request was not made.",
        field="role",
        hint=f"A program offers: {offered}. Ask again for one of them.",
    )


def require_same_agency(actor: Actor, *, program_agency_id: int, program_name: str) -> None:
    """Staff ask for roles with their own agency (their employer), whose officer decides."""
    if actor.agency_id is None:
        raise Forbidden(
            "You are not on the staff of any agency, so no security officer can approve "
            f"a role at {program_name} for you.",
            hint="Ask a network admin to add you to your agency in the directory.",
        )
    if actor.agency_id != program_agency_id:
        raise Forbidden(
            f"{program_name} belongs to another agency than yours, so its security officer "
            "cannot approve a role there for you.",
            hint="Ask for a role at one of your own agency's programs.",
        )


def may_decide(actor: Actor, *, agency_id: int, requester_id: int) -> bool:
    """Only a security officer of the program's agency decides, and never on their own request.

    Admins do not: the agency's own officer alone vouches for its staff (DOMAIN.md).
    """
    return actor.staff_id != requester_id and any(
        g.role == Role.SECURITY_OFFICER and g.agency_id == agency_id for g in actor.grants
    )


def require_may_decide(
    actor: Actor, *, agency_id: int, agency_name: str, requester_id: int
) -> None:
    if actor.staff_id == requester_id:
        raise Forbidden(
            "You cannot decide your own access request.",
            hint=f"Another security officer of {agency_name} decides it.",
        )
    if not may_decide(actor, agency_id=agency_id, requester_id=requester_id):
        raise Forbidden(f"Only a security officer of {agency_name} can decide this request.")


def is_officer_of(actor: Actor, agency_id: int | None) -> bool:
    return agency_id is not None and any(
        g.role == Role.SECURITY_OFFICER and g.agency_id == agency_id for g in actor.grants
    )


def require_may_revoke(actor: Actor, *, agency_id: int | None, staff_id: int, person: str) -> None:
    """A security officer of the person's agency, or an admin, removes their access; nobody
    removes their own (it could not be given back by the same hands)."""
    if actor.staff_id == staff_id:
        raise Forbidden(
            "You cannot remove your own access.",
            hint="Ask another security officer of your agency or a network admin.",
        )
    if actor.is_admin or is_officer_of(actor, agency_id):
        return
    raise Forbidden(f"Only a security officer of {person}'s agency or an admin can remove access.")


def require_may_review(actor: Actor, *, agency_id: int, agency_name: str) -> None:
    if actor.is_admin or is_officer_of(actor, agency_id):
        return
    raise Forbidden(f"Only a security officer of {agency_name} or an admin can review its roles.")
