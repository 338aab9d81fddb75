"""Spaces out messages to the same Slack channel: chat.postMessage allows about one a second."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

# Forgetting channels whose turn has long passed keeps memory flat over a long-running worker.
_PRUNE_ABOVE = 1024


class ChannelPacer:
    """Hands out turns per channel, `interval` seconds apart, to any number of threads.

    A caller reserves its slot under the lock and sleeps outside it, so two workers posting to
    the same channel queue one behind the other while other channels are not held up.
    """

    def __init__(
        self,
        interval: float = 1.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = interval
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next_free: dict[str, float] = {}

    def wait_turn(self, channel: str) -> float:
        """Block until `channel` may receive the next message; return the seconds waited."""
        with self._lock:
            now = self._clock()
            slot = max(now, self._next_free.get(channel, now))
            self._next_free[channel] = slot + self.interval
            if len(self._next_free) > _PRUNE_ABOVE:
                self._next_free = {c: t for c, t in self._next_free.items() if t > now}
        wait = slot - now
        if wait > 0:
            self._sleep(wait)
        return wait
