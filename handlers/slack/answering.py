"""Acknowledged `/referral` commands answered from separate, lower-priority processes."""

from __future__ import annotations

import asyncio
import logging
import os
import pickle
import struct
import uuid
from dataclasses import dataclass
from multiprocessing import get_context
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook import WebhookClient
from sqlalchemy.orm import Session, sessionmaker

from bot.runtime import Runtime
from bot.settings import Settings
from handlers.slack.client import make_async_web_client
from handlers.slack.commands import SlackCommand
from handlers.slack.errors import answer_of
from handlers.slack.execute import execute
from handlers.slack.queued import (
    SWEEP_SECONDS,
    claim_command,
    mark_posted,
    orphaned,
    queue_command,
    record_answer,
)
from handlers.slack.runner import UseCaseRunner
from storage.db import make_engine, make_session_factory

log = logging.getLogger(__name__)

# Below the web process, so the OS gives acknowledgements the CPU first and answers what is left.
NICENESS = 10
# How often the web process checks that its answering processes are alive.
WATCH_SECONDS = 2.0


class AnsweringPool:
    """Processes that carry out acknowledged commands and post the answers to response_url.

    The web process then only acknowledges: the use cases' Python (SQLAlchemy, Block Kit) holds
    another process's GIL, at a lower priority, instead of delaying the next acknowledgements
    past Slack's 3 seconds under a burst (docs/benchmarks.md). Each process has its own pipe,
    which the event loop writes without blocking and without helper threads (a process pool's
    threads took the web process's GIL for every command); nothing comes back, as each process
    posts its own answers.
    """

    def __init__(
        self, settings: Settings, processes: int, sessions: sessionmaker[Session] | None = None
    ) -> None:
        # spawn, not fork: the web process has threads and an event loop that must not be copied.
        self._context = get_context("spawn")
        self._settings, self._size = settings, processes
        self._workers: list[_Worker] = []
        self._turn = 0
        self._watch: asyncio.Task[None] | None = None
        self._session_factory: sessionmaker[Session] | None = sessions

    async def answer(self, command: SlackCommand, user_id: str, response_url: str) -> None:
        """Queue a command durably and hand it to a process (`queue` then `hand`)."""
        await self.hand(await self.queue(command, user_id, response_url))

    async def queue(self, command: SlackCommand, user_id: str, response_url: str) -> int:
        """Write the command to the database (before it is acknowledged): from then on it is
        answered even if the process it is handed to dies. Returns its id."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            None, queue_command, self._sessions(), command, user_id, response_url
        )

    async def hand(self, command_id: int) -> None:
        """Tell one process to answer it now (the others would find it within seconds)."""
        worker = await self._next()
        message = struct.pack("!q", command_id)
        # The framing Connection.recv_bytes reads; the transport buffers when the pipe is full.
        worker.pipe.write(struct.pack("!i", len(message)) + message)
        if self._watch is None:
            self._watch = asyncio.get_running_loop().create_task(self._watchdog())

    async def _watchdog(self) -> None:
        """Replace a process that died even when no command comes to notice it: the commands
        it held are waiting in the database for a live one."""
        while self._workers:
            await asyncio.sleep(WATCH_SECONDS)
            for i, worker in enumerate(list(self._workers)):
                if not worker.process.is_alive() and i < len(self._workers):
                    self._workers[i] = await self._start()

    def _sessions(self) -> sessionmaker[Session]:
        if self._session_factory is None:
            engine = make_engine(self._settings.database_url)
            self._session_factory = make_session_factory(engine, settings=self._settings)
        return self._session_factory

    async def warm(self) -> None:
        """Start the processes now rather than inside the first command's answer."""
        await self._next()

    def close(self) -> None:
        # Each process reads the end of its pipe and stops; one still busy is stopped with us.
        workers, self._workers = self._workers, []
        for worker in workers:
            worker.pipe.close()
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None

    async def _next(self) -> _Worker:
        while len(self._workers) < self._size:
            self._workers.append(await self._start())
        self._turn = (self._turn + 1) % self._size
        if not self._workers[self._turn].process.is_alive():
            # Killed (out of memory, by hand): what was in its pipe waits in the database for
            # the other processes; the next commands go to a fresh process.
            self._workers[self._turn] = await self._start()
        return self._workers[self._turn]

    async def _start(self) -> _Worker:
        reader, writer = self._context.Pipe(duplex=False)
        process = self._context.Process(
            target=_serve, args=(self._settings, reader), name="slack-answering", daemon=True
        )
        process.start()
        reader.close()  # the process has its own copy
        pipe, _ = await asyncio.get_running_loop().connect_write_pipe(asyncio.Protocol, writer)
        return _Worker(process, pipe)


@dataclass
class _Worker:
    process: BaseProcess
    pipe: asyncio.WriteTransport


@dataclass
class _Answerer:
    """What one answering process keeps between commands."""

    runtime: Runtime
    runner: UseCaseRunner
    client: AsyncWebClient
    loop: asyncio.AbstractEventLoop


def _serve(settings: Settings, commands: Connection) -> None:
    os.nice(NICENESS)
    runtime = Runtime(settings)
    # One use case at a time: a second process, not a second thread, is how this scales.
    runner = UseCaseRunner(runtime.sessions, workers=1)
    client = make_async_web_client(settings.slack_bot_token, settings.slack_api_url)
    answerer = _Answerer(runtime, runner, client, asyncio.new_event_loop())
    me = f"{os.getpid()}:{uuid.uuid4().hex[:8]}"
    while True:
        try:
            handed = commands.poll(SWEEP_SECONDS)
            message = commands.recv_bytes() if handed else None
        except (EOFError, OSError):
            return
        try:
            if message is not None:
                (command_id,) = struct.unpack("!q", message)
                _answer_one(answerer, me, command_id)
            for orphan in orphaned(runtime.sessions):
                _answer_one(answerer, me, orphan)
        except Exception:  # the database is away: what is queued stays queued, try again
            log.exception("queued Slack commands could not be answered")


def _answer_one(answerer: _Answerer, me: str, command_id: int) -> None:
    sessions = answerer.runtime.sessions
    claimed = claim_command(sessions, command_id, me)
    if claimed is None:
        return  # another process has it, or it was answered
    if claimed.answer is None:
        command, user_id = pickle.loads(claimed.command), claimed.user_id
        answer = answerer.loop.run_until_complete(_carry_out(answerer, command, user_id))
        if not record_answer(sessions, command_id, me, answer):
            return  # its lease ran out and another process took it over
    else:
        answer = claimed.answer  # carried out before its process died; only the post is left
    try:
        WebhookClient(url=claimed.response_url).send_dict(answer)
    except Exception:  # Slack is away: the answer is kept and posted by the next sweep
        log.exception("a Slack command's answer could not be posted")
        return
    mark_posted(sessions, command_id, me)


async def _carry_out(answerer: _Answerer, command: SlackCommand, user_id: str) -> dict[str, Any]:
    # What the Bolt app's error handler does for commands answered in the web process.
    try:
        return await execute(command, answerer.runner, answerer.client, user_id)
    except Exception as error:
        return answer_of(error, type(command).__name__)
