"""What listeners need from closeloop: the acting staff member and one use case, off the loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any, TypeVar

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.orm import Session, sessionmaker

from bot.actors import actor_for
from bot.context import now
from bot.domain.permissions import Actor
from bot.errors import UserError
from handlers.slack.identity import LINK_TTL, cached_staff, link, not_linked
from storage.db import transaction
from storage.models import Staff

T = TypeVar("T")
R = TypeVar("R")
# Two threads: one runs Python while the other waits on the database. More threads only take
# the GIL from the event loop, which must keep acknowledging within Slack's 3 seconds; under a
# burst, commands queue here instead (bench/slack_ack.py, docs/benchmarks.md).
WORKERS = 2
UseCase = Callable[[Session, Actor], T]


class UseCaseRunner:
    """Runs a use case for a Slack user.

    The use cases are synchronous SQLAlchemy code: they run in a worker thread so the event
    loop keeps acknowledging other requests inside Slack's 3 seconds.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        link_ttl: timedelta = LINK_TTL,
        workers: int = WORKERS,
    ) -> None:
        self.sessions = sessions
        self.link_ttl = link_ttl
        # A small pool of its own: under a burst, use cases queue here instead of filling the
        # process with threads that take the GIL from the loop that acknowledges requests.
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="slack-use-case")

    async def _off_loop(self, function: Callable[..., R], *args: Any) -> R:
        return await asyncio.get_running_loop().run_in_executor(self._pool, function, *args)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def run(self, client: AsyncWebClient, user_id: str, use_case: UseCase[T]) -> T:
        """`use_case(session, actor)` in one transaction, as the staff member linked to user_id."""
        found, result = await self._off_loop(self._cached_run, user_id, use_case)
        if found:
            return result  # type: ignore[return-value]
        staff_id = await self.link(client, user_id)
        return await self._off_loop(self._run, staff_id, use_case)

    async def link(
        self,
        client: AsyncWebClient,
        user_id: str,
        unknown: Callable[[str | None], UserError] = not_linked,
    ) -> int:
        """The staff id of a Slack user, checking their profile email with Slack when the link
        is not fresh; `unknown(email)` is raised when no staff member has it."""
        found = await self._off_loop(self._cached_id, user_id)
        if found is not None:
            return found
        email = await _profile_email(client, user_id)
        staff_id = await self._off_loop(self._link, user_id, email)
        if staff_id is None:
            raise unknown(email)
        return staff_id

    def _cached_run(self, user_id: str, use_case: UseCase[T]) -> tuple[bool, T | None]:
        # The common case, a link checked today, costs one transaction and no Slack call.
        with transaction(self.sessions) as session:
            staff = cached_staff(session, user_id, now(session), self.link_ttl)
            if staff is None:
                return False, None
            return True, use_case(session, actor_for(session, staff))

    def _cached_id(self, user_id: str) -> int | None:
        with transaction(self.sessions) as session:
            staff = cached_staff(session, user_id, now(session), self.link_ttl)
            return staff.id if staff is not None else None

    def _link(self, user_id: str, email: str | None) -> int | None:
        with transaction(self.sessions) as session:
            staff = link(session, user_id, email, now(session))
            return staff.id if staff is not None else None

    def _run(self, staff_id: int, use_case: UseCase[T]) -> T:
        with transaction(self.sessions) as session:
            staff = session.get(Staff, staff_id)
            if staff is None:  # pragma: no cover - deleted between two transactions
                raise not_linked(None)
            return use_case(session, actor_for(session, staff))


async def _profile_email(client: AsyncWebClient, user_id: str) -> str | None:
    try:
        answer = await client.users_info(user=user_id)
    except SlackApiError as err:
        if err.response.get("error") in ("user_not_found", "users_not_found"):
            return None
        raise
    user: dict[str, Any] = answer.get("user") or {}
    if user.get("deleted") or user.get("is_bot"):
        return None
    email = (user.get("profile") or {}).get("email")
    return str(email) if email else None
