"""Before publishing: every program that will receive a referral, and every program that would
have but will not, with its reason; the refusal of a referral that would reach nobody."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from bot.context import today
from bot.domain.capacity import Capacity, CapacityStatus, stated, warns
from bot.domain.permissions import Actor, require_coordinator
from bot.domain.routing import REFUSAL_FIXES, REFUSAL_WORDS, Refusal, considered, refusal
from bot.errors import Conflict
from bot.services.lookup import visible_referral
from bot.services.routing import program_facts, referral_facts
from storage.models import Program, Referral


@dataclass(frozen=True)
class ProgramLine:
    """One program in a preview: its capacity, and why it is left out when it is."""

    key: str
    name: str
    agency: str
    capacity: str | None
    no_capacity: bool
    receiving_now: bool = False
    reason: Refusal | None = None
    why: str | None = None


@dataclass(frozen=True)
class Preview:
    number: str
    receiving: list[ProgramLine]
    refused: list[ProgramLine]
    # What the coordinator could change to reach the refused programs, most useful first.
    fixes: list[str] = field(default_factory=list)

    @property
    def no_capacity(self) -> list[ProgramLine]:
        return [line for line in self.receiving if line.no_capacity]


def capacity_of(program: Program) -> Capacity | None:
    if program.capacity_status is None or program.capacity_set_on is None:
        return None
    return Capacity(
        status=program.capacity_status,
        set_on=program.capacity_set_on,
        until=program.capacity_until,
        waitlist=program.capacity_waitlist,
    )


def capacity_words(program: Program, day: date) -> str | None:
    current = stated(capacity_of(program), day)
    return current.words if current else None


def preview_of(session: Session, referral: Referral) -> Preview:
    """The recipients a (re-)publish would have now, and the programs it would leave out."""
    day = today(session)
    facts = program_facts(session, day)
    wanted = referral_facts(session, referral, day)
    programs = {
        p.id: p
        for p in session.scalars(select(Program).options(joinedload(Program.agency))).unique()
    }
    current = {r.program_id for r in referral.recipients if r.active}
    receiving: list[ProgramLine] = []
    refused: list[ProgramLine] = []
    for fact in facts:
        reason = refusal(fact, wanted)
        if reason is not None and not considered(fact, wanted):
            continue
        program = programs[fact.id]
        line = ProgramLine(
            key=program.key,
            name=program.name,
            agency=program.agency.name,
            capacity=capacity_words(program, day),
            no_capacity=warns(capacity_of(program), day),
            receiving_now=fact.id in current,
            reason=reason,
            why=REFUSAL_WORDS[reason] if reason else None,
        )
        (receiving if reason is None else refused).append(line)
    receiving.sort(key=lambda line: line.name)
    refused.sort(key=lambda line: line.name)
    counts = Counter(line.reason for line in refused if line.reason is not None)
    fixes = [
        fix for reason, _n in counts.most_common() if (fix := REFUSAL_FIXES[reason]) is not None
    ]
    return Preview(referral.number or "", receiving, refused, fixes)


def preview_referral(session: Session, *, actor: Actor, number: str) -> Preview:
    """The preview, for a coordinator who can see the referral: programs only, no client."""
    require_coordinator(actor)
    return preview_of(session, visible_referral(session, actor, number))


# The form field a coordinator changes to reach programs refused for each reason.
_FIELD_OF = {
    Refusal.COUNTY: "counties",
    Refusal.SERVICE: "needs",
    Refusal.EXCLUDED: "exclude_programs",
    Refusal.CONSENT: "consent",
    Refusal.TARGET: "target_programs",
}


class NoRecipients(Conflict):
    """Publishing would reach no program: refused, with every refused program's reason."""

    def __init__(self, preview: Preview, needs: list[str]) -> None:
        if preview.refused:
            reasons = "; ".join(f"{line.name}: {line.why}" for line in preview.refused)
            message = (
                f"{preview.number} cannot be published: no program would receive it ({reasons})."
            )
            hint = (
                "To reach one: " + "; or ".join(preview.fixes) + "."
                if preview.fixes
                else "None of them can receive referrals now; try other needs or counties."
            )
            counts = Counter(line.reason for line in preview.refused)
            top = counts.most_common(1)[0][0]
            field_name = _FIELD_OF.get(top, "needs") if top is not None else "needs"
        else:
            message = (
                f"{preview.number} cannot be published: no program in the directory offers "
                f"{', '.join(needs)}."
            )
            hint = "Choose other needs from the service list."
            field_name = "needs"
        super().__init__(message, field=field_name, hint=hint)
        self.preview = preview


class NoCapacity(Conflict):
    """Some recipients said they have no capacity: the coordinator confirms before sending."""

    def __init__(self, number: str, lines: list[ProgramLine]) -> None:
        listing = "; ".join(f"{line.name}: {line.capacity}" for line in lines)
        super().__init__(
            f"{number}: {len(lines)} program(s) that would receive it said they have no "
            f"capacity ({listing}).",
            field="confirm_no_capacity",
            hint="Publish anyway to send it to them too, or exclude them first.",
        )
        self.lines = lines


def check_capacity(
    session: Session, referral: Referral, program_ids: set[int], *, confirmed: bool
) -> None:
    """Refuse (once) to send to programs that said they have no capacity, unless confirmed."""
    if confirmed or not program_ids:
        return
    day = today(session)
    # Only a stated "no capacity" can warn: the rest of a statewide referral's 3,000 programs
    # are not loaded, nor sent as 3,000 parameters (the "until" is the domain's to judge, below).
    full = [
        p
        for p in session.scalars(
            select(Program)
            .where(Program.capacity_status == CapacityStatus.NONE)
            .order_by(Program.name)
        )
        if p.id in program_ids and warns(capacity_of(p), day)
    ]
    if full:
        lines = [
            ProgramLine(
                key=p.key,
                name=p.name,
                agency="",
                capacity=capacity_words(p, day),
                no_capacity=True,
            )
            for p in full
        ]
        raise NoCapacity(referral.number or "", lines)
