"""Allocation-heavy batch work, such as the scheduled jobs, with Python's cycle collector paused.

A job over a large network builds hundreds of thousands of small dicts and lists that stay alive
until it ends. Each of them counts towards the cycle collector's next pass, and its full passes
walk every object alive: on the benchmark's first run over a 200-day backlog those passes took
0.35 s of the reminders' 1.5 s and 0.7 s of the escalations' 2.4 s (docs/benchmarks.md), while
none of those objects is garbage. Reference counting still frees everything as usual; what a job
leaves in cycles is collected after it, when the collector runs again.
"""

from __future__ import annotations

import functools
import gc
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

_lock = threading.Lock()
_holders = 0  # jobs running with the collector paused (`serve` runs jobs in threads)
_was_enabled = True


@contextmanager
def cycle_collector_paused() -> Iterator[None]:
    """Pause the cycle collector until the last job that paused it ends; leave it off if
    something else had turned it off."""
    global _holders, _was_enabled
    with _lock:
        if _holders == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0 and _was_enabled:
                gc.enable()


def batch_job(function: Callable[P, R]) -> Callable[P, R]:
    """Run `function` with the cycle collector paused."""

    @functools.wraps(function)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        with cycle_collector_paused():
            return function(*args, **kwargs)

    return run
