"""Acknowledged `/referral` commands answered from separate, lower-priority processes."""

from __future__ import annotations

import asyncio
import logging
import os
import pickle
import struct
from dataclasses import dataclass
from multiprocessing import get_context
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook import WebhookClient

from bot.runtime import Runtime
from bot.settings import Settings
from handlers.slack.client import make_async_web_client
from handlers.slack.commands import SlackCommand
from handlers.slack.errors import answer_of
from handlers.slack.execute import execute
from handlers.slack.runner import UseCaseRunner

log = logging.getLogger(__name__)

# Below the web process, so the OS gives acknowledgements the CPU first and answers what is left.
NICENESS = 10


class AnsweringPool:
    """Processes that carry out acknowledged commands and post the answers to response_url.

    The web process then only acknowledges: the use cases' Python (SQLAlchemy, Block Kit) holds
    another process's GIL, at a lower priority, instead of delaying the next acknowledgements
    past Slack's 3 seconds under a burst (docs/benchmarks.md). Each process has its own pipe,
    which the event loop writes without blocking and without helper threads (a process pool's
    threads took the web process's GIL for every command); nothing comes back, as each process
    posts its own answers.
    """

    def __init__(self, settings: Settings, processes: int) -> None:
        # spawn, not fork: the web process has threads and an event loop that must not be copied.
        self._context = get_context("spawn")
        self._settings, self._size = settings, processes
        self._workers: list[_Worker] = []
        self._turn = 0

    async def answer(self, command: SlackCommand, user_id: str, response_url: str) -> None:
        worker = await self._next()
        message = pickle.dumps((command, user_id, response_url))
        # The framing Connection.recv_bytes reads; the transport buffers when the pipe is full.
        worker.pipe.write(struct.pack("!i", len(message)) + message)

    async def warm(self) -> None:
        """Start the processes now rather than inside the first command's answer."""
        await self._next()

    def close(self) -> None:
        # Each process reads the end of its pipe and stops; one still busy is stopped with us.
        for worker in self._workers:
            worker.pipe.close()
        self._workers = []

    async def _next(self) -> _Worker:
        while len(self._workers) < self._size:
            self._workers.append(await self._start())
        self._turn = (self._turn + 1) % self._size
        if not self._workers[self._turn].process.is_alive():
            # Killed (out of memory, by hand): what was in its pipe is lost; the next commands
            # go to a fresh process instead of waiting for a restart.
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
    while True:
        try:
            message = commands.recv_bytes()
        except EOFError:
            return
        command, user_id, response_url = pickle.loads(message)
        try:
            answer = answerer.loop.run_until_complete(_carry_out(answerer, command, user_id))
            WebhookClient(url=response_url).send_dict(answer)
        except Exception:
            log.exception("Slack command could not be answered: %s", type(command).__name__)


async def _carry_out(answerer: _Answerer, command: SlackCommand, user_id: str) -> dict[str, Any]:
    # What the Bolt app's error handler does for commands answered in the web process.
    try:
        return await execute(command, answerer.runner, answerer.client, user_id)
    except Exception as error:
        return answer_of(error, type(command).__name__)
