"""Slack commands queued for the answering processes: written before the acknowledgement,
claimed with a lease, carried out (the answer kept), posted and deleted; a dead process's
commands are taken over.

Each step is one short transaction whose write matches the claimant, so two processes never
both carry out one command. A process that dies while carrying a command out leaves it to the
next claimant once the lease lapses; one that dies after recording the answer leaves only the
post, and the answer is posted as recorded, without carrying the command out again.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.context import now
from storage.db import transaction
from storage.models import QueuedCommand

# Longer than any command takes to carry out (they are one use case each).
LEASE = timedelta(seconds=30)
# A command handed to a process is claimed at once; one not claimed after this long was in
# the pipe of a process that died. Processes look for such commands this often.
UNCLAIMED_AFTER = timedelta(seconds=3)
SWEEP_SECONDS = 1.0


@dataclass(frozen=True)
class Claimed:
    command: bytes
    user_id: str
    response_url: str
    answer: dict[str, Any] | None


def queue_command(
    sessions: sessionmaker[Session], command: object, user_id: str, response_url: str
) -> int:
    with transaction(sessions) as session:
        row = QueuedCommand(
            command=pickle.dumps(command),
            user_id=user_id,
            response_url=response_url,
            status="queued",
            created_at=now(session),
        )
        session.add(row)
        session.flush()
        return row.id


def claim_command(sessions: sessionmaker[Session], command_id: int, me: str) -> Claimed | None:
    """Take the command for LEASE unless it is posted or another process holds it."""
    with transaction(sessions) as session:
        moment = now(session)
        row = session.execute(
            update(QueuedCommand)
            .where(
                QueuedCommand.id == command_id,
                or_(QueuedCommand.leased_until.is_(None), QueuedCommand.leased_until < moment),
            )
            .values(claimed_by=me, leased_until=moment + LEASE)
            .returning(
                QueuedCommand.command,
                QueuedCommand.user_id,
                QueuedCommand.response_url,
                QueuedCommand.answer,
            )
        ).first()
    return None if row is None else Claimed(row[0], row[1], row[2], row[3])


def record_answer(
    sessions: sessionmaker[Session], command_id: int, me: str, answer: dict[str, Any]
) -> bool:
    with transaction(sessions) as session:
        result = session.execute(
            update(QueuedCommand)
            .where(QueuedCommand.id == command_id, QueuedCommand.claimed_by == me)
            .values(status="answered", answer=answer)
        )
        return bool(getattr(result, "rowcount", 0))


def mark_posted(sessions: sessionmaker[Session], command_id: int, me: str) -> None:
    """Done: the row goes (it holds what a person typed, which is kept no longer than needed)."""
    with transaction(sessions) as session:
        session.execute(
            delete(QueuedCommand).where(
                QueuedCommand.id == command_id, QueuedCommand.claimed_by == me
            )
        )


def orphaned(sessions: sessionmaker[Session], limit: int = 20) -> list[int]:
    """Commands left by a process that died: never claimed, or their lease lapsed."""
    with transaction(sessions) as session:
        moment = now(session)
        return list(
            session.scalars(
                select(QueuedCommand.id)
                .where(
                    QueuedCommand.status.in_(("queued", "answered")),
                    or_(
                        (QueuedCommand.leased_until.is_(None))
                        & (QueuedCommand.created_at < moment - UNCLAIMED_AFTER),
                        QueuedCommand.leased_until < moment,
                    ),
                )
                .order_by(QueuedCommand.id)
                .limit(limit)
            )
        )
