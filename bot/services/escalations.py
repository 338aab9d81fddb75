"""Overdue escalations: no assignment and no response five business days after a program joined."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import literal, select
from sqlalchemy.orm import Session

from bot.batch import batch_job
from bot.context import now
from bot.domain.vocab import ReferralState
from bot.services.grid import overdue_cutoff
from bot.services.periodic import gatekeepers_by_program, one_run_at_a_time, pair_items, send_lists
from storage.db import insert
from storage.models import Escalation, Recipient, Referral
from storage.types import UTCDateTime


@batch_job
def overdue_escalations(session: Session) -> int:
    """No assignment and no response five business days after a program joined: its gatekeepers
    get a reminder and the primary coordinator a note naming the other programs to consider.

    Each overdue pair is escalated once ever: the job claims the pairs not escalated yet in one
    INSERT ... SELECT (the due test and the claim in the database, so nothing is read to decide
    it), and runs take turns, so a second clock or an overlapping run finds them claimed.
    Details are loaded only for what this run claimed."""
    one_run_at_a_time(session, "overdue_escalations")
    moment = now(session)
    overdue = (
        select(Recipient.referral_id, Recipient.program_id, literal(moment, UTCDateTime()))
        .join(Referral, Referral.id == Recipient.referral_id)
        .where(
            Recipient.active.is_(True),
            Referral.state == ReferralState.OPEN,
            Recipient.assignee_id.is_(None),
            Recipient.response.is_(None),
            Recipient.joined_at < overdue_cutoff(session),
        )
        .order_by(Recipient.referral_id, Recipient.program_id)
    )
    claimed = {
        (referral_id, program_id): escalation_id
        for escalation_id, referral_id, program_id in session.connection().execute(
            insert(session, Escalation)
            .from_select(["referral_id", "program_id", "escalated_at"], overdue)
            .on_conflict_do_nothing()
            .returning(Escalation.id, Escalation.referral_id, Escalation.program_id)
        )
    }
    if not claimed:
        return 0
    per_pair, coordinators = pair_items(session, {pair[0] for pair in claimed}, moment)
    gatekeepers = {
        program_id: [g.id for g in people]
        for program_id, people in gatekeepers_by_program(session).items()
    }
    # The programs a coordinator could turn to instead, per referral: those that accepted,
    # tentatively or not, and those that have not answered yet; each note names the others.
    others: dict[int, list[tuple[int, dict[str, str]]]] = defaultdict(list)
    for (referral_id, program_id), item in per_pair.items():
        if item["response"] in (None, "accept", "tentative"):
            answer = item["response"] or "not answered yet"
            others[referral_id].append(
                (program_id, {"program": item["program"], "response": answer})
            )
    lists: dict[str, dict[int, list[dict[str, Any]]]] = {
        "g": defaultdict(list),
        "c": defaultdict(list),
    }
    claims: dict[str, dict[int, list[int]]] = {"g": defaultdict(list), "c": defaultdict(list)}
    # Sorted once in the order every list is in (referral number, then program).
    for pair in sorted(claimed, key=lambda p: (per_pair[p]["number"], per_pair[p]["program"])):
        referral_id, program_id = pair
        item, escalation = per_pair[pair], claimed[pair]
        coordinator = coordinators[referral_id]
        for gatekeeper in gatekeepers.get(program_id, ()):
            if gatekeeper != coordinator:  # who is both gets the coordinator's note only
                lists["g"][gatekeeper].append(item)
                claims["g"][gatekeeper].append(escalation)
        consider = [o for other, o in others[referral_id] if other != program_id]
        lists["c"][coordinator].append(item | {"consider": consider})
        claims["c"][coordinator].append(escalation)
    # Each message's key names the first pair it claimed: a later run the same day that claims
    # more writes a message of its own.
    tags = {
        who: {staff_id: f"m{min(ids)}" for staff_id, ids in claims[who].items()} for who in claims
    }
    written = send_lists(session, kind="overdue_gatekeeper", lists=lists["g"], tags=tags["g"])
    written += send_lists(session, kind="overdue_coordinator", lists=lists["c"], tags=tags["c"])
    return written
