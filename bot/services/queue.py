"""A person's work queue: referrals waiting for them to assign or to answer."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from bot.context import settings_of
from bot.domain.permissions import Actor
from bot.domain.vocab import ACTIVE_STATES, Role
from bot.services.grid import MAX_LIMIT, GridQuery, GridRow, search
from bot.services.work import providers_of
from storage.models import Recipient, Referral


@dataclass(frozen=True)
class QueueItem:
    row: GridRow
    to_assign: bool
    # (staff id, name) of the people the program may assign it to; only when `to_assign`.
    providers: list[tuple[int, str]]


class WorkQueue(list[QueueItem]):
    """The oldest items of a person's queue, with how many wait in all and where to see them
    all (App Home shows a capped list and must say so)."""

    def __init__(
        self, items: Iterable[QueueItem] = (), *, total: int = 0, web_url: str = ""
    ) -> None:
        super().__init__(items)
        self.total = max(total, len(self))
        self.web_url = web_url

    @property
    def more(self) -> int:
        return self.total - len(self)


def work_queue(session: Session, *, actor: Actor, limit: int = 20) -> WorkQueue:
    """Unanswered referrals at the actor's gatekeeping programs that nobody holds, and
    unanswered referrals assigned to the actor; oldest first."""
    gatekeeping = actor.programs(Role.GATEKEEPER)
    providing = actor.programs(Role.PROVIDER, Role.GATEKEEPER)
    clauses = []
    if gatekeeping:
        clauses.append(and_(Recipient.program_id.in_(gatekeeping), Recipient.assignee_id.is_(None)))
    if providing:
        clauses.append(
            and_(Recipient.program_id.in_(providing), Recipient.assignee_id == actor.staff_id)
        )
    if not clauses:
        return WorkQueue()
    waiting = dict(
        session.execute(
            select(Recipient.id, Recipient.program_id)
            .join(Referral, Referral.id == Recipient.referral_id)
            .where(
                Recipient.active.is_(True),
                Recipient.response.is_(None),
                Referral.state.in_(ACTIVE_STATES),
                or_(*clauses),
            )
        ).all()
    )
    if not waiting:
        return WorkQueue()
    page = search(session, actor=actor, query=GridQuery(scope="open", limit=MAX_LIMIT))
    items: list[QueueItem] = []
    pools: dict[int, list[tuple[int, str]]] = {}
    for row in page.rows:
        program_id = waiting.get(row.recipient_id)
        if program_id is None:
            continue
        to_assign = row.assignee is None and program_id in gatekeeping
        if to_assign and program_id not in pools:
            pools[program_id] = [(s.id, s.name) for s in providers_of(session, program_id)]
        items.append(QueueItem(row, to_assign, pools.get(program_id, []) if to_assign else []))
        if len(items) >= limit:
            break
    web_url = settings_of(session).public_url.rstrip("/") + "/referrals"
    return WorkQueue(items, total=len(waiting), web_url=web_url)
