"""The import's progress bar: on standard error, only on a terminal or when asked for."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from bot.interop.hsds_read import Progress as Tick


class ProgressBar:
    """`bar.phase("reading", total)` starts a bar; calling the bar advances it by n."""

    def __init__(self, progress: Progress | None) -> None:
        self._progress = progress
        self._task: TaskID | None = None

    def phase(self, label: str, total: int | None) -> None:
        if self._progress is None:
            return
        if self._task is not None:
            self._progress.update(self._task, visible=False)
        self._task = self._progress.add_task(label, total=total)

    def __call__(self, stage: str, n: int) -> None:  # the phase's label says enough
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, advance=n)

    @property
    def tick(self) -> Tick | None:
        return self if self._progress is not None else None


@contextmanager
def progress_bar(*, forced: bool, stream: TextIO | None = None) -> Iterator[ProgressBar]:
    out = stream or sys.stderr
    if not (forced or out.isatty()):
        yield ProgressBar(None)
        return
    console = Console(file=out, force_terminal=forced or None)
    with Progress(
        TextColumn("{task.description:<14}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        yield ProgressBar(progress)
