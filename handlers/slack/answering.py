"""Acknowledged `/referral` commands answered from separate, lower-priority processes."""

from __future__ import annotations

import asyncio
import logging
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing import get_context
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook import WebhookClient

from bot.errors import UserError
from bot.runtime import Runtime
from bot.settings import Settings
from handlers.slack.app import SORRY
from handlers.slack.blocks import reply
from handlers.slack.client import make_async_web_client
from handlers.slack.commands import SlackCommand
from handlers.slack.execute import execute
from handlers.slack.gateway import Gateway

log = logging.getLogger(__name__)

# Below the web process, so the OS gives acknowledgements the CPU first and answers what is left.
NICENESS = 10


class AnsweringPool:
    """Processes that carry out acknowledged commands and post the answers to response_url.

    The web process then only acknowledges: the use cases' Python (SQLAlchemy, Block Kit) holds
    another process's GIL, at a lower priority, instead of delaying the next acknowledgements
    past Slack's 3 seconds under a burst (docs/benchmarks.md).
    """

    def __init__(self, settings: Settings, processes: int) -> None:
        self._settings, self._processes = settings, processes
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        # spawn, not fork: the web process has threads and an event loop that must not be copied.
        return ProcessPoolExecutor(
            self._processes,
            mp_context=get_context("spawn"),
            initializer=_start,
            initargs=(self._settings,),
        )

    async def answer(self, command: SlackCommand, user_id: str, response_url: str) -> None:
        loop = asyncio.get_running_loop()
        pool = self._pool
        try:
            await loop.run_in_executor(pool, _answer, command, user_id, response_url)
        except BrokenProcessPool:
            # A process died (killed, out of memory): this command gets the apology from the
            # error handler; later ones go to fresh processes instead of failing until a restart.
            if self._pool is pool:
                self._pool = self._new_pool()
            raise

    async def warm(self) -> None:
        """Start the processes now rather than inside the first command's answer."""
        await asyncio.get_running_loop().run_in_executor(self._pool, _ready)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


@dataclass
class _Answerer:
    """What one answering process keeps between commands."""

    runtime: Runtime
    gateway: Gateway
    client: AsyncWebClient
    loop: asyncio.AbstractEventLoop


_answerer: _Answerer | None = None  # set in each answering process by _start


def _start(settings: Settings) -> None:
    global _answerer
    os.nice(NICENESS)
    runtime = Runtime(settings)
    # One use case at a time: a second process, not a second thread, is how this scales.
    gateway = Gateway(runtime.sessions, workers=1)
    client = make_async_web_client(settings.slack_bot_token, settings.slack_api_url)
    _answerer = _Answerer(runtime, gateway, client, asyncio.new_event_loop())


def _ready() -> bool:
    return _answerer is not None


def _answer(command: SlackCommand, user_id: str, response_url: str) -> None:
    assert _answerer is not None, "an answering process runs _start first"
    answer = _answerer.loop.run_until_complete(_carry_out(_answerer, command, user_id))
    WebhookClient(url=response_url).send_dict(answer)


async def _carry_out(answerer: _Answerer, command: SlackCommand, user_id: str) -> dict[str, Any]:
    # What the Bolt app's error handler does for commands answered in the web process.
    try:
        return await execute(command, answerer.gateway, answerer.client, user_id)
    except UserError as error:
        return reply(str(error)) | {"replace_original": False}
    except Exception:
        log.exception("Slack command failed: %s", type(command).__name__)
        return reply(SORRY) | {"replace_original": False}
