"""Horizontal stacked bar charts as geometry for an inline SVG (templates/web/_chart.html).

Each bar's label sits on its own line above the bar, across the chart's whole width, so a long
program name is never cut at the left edge (a label column beside the bars was), and the SVG
scales down to a phone's width without losing any of it."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

WIDTH = 480
BAR_HEIGHT = 20
GAP = 12
TOP = 4
# One label line (12 px text) and how many characters fit the width at that size, with room.
LINE_HEIGHT = 16
LINE_CHARS = 56
# Room right of the longest bar for its total.
TOTAL_ROOM = 50


@dataclass(frozen=True)
class Segment:
    series: int
    value: int
    x: float
    width: float


@dataclass(frozen=True)
class Bar:
    label: str
    label_lines: list[tuple[str, float]]  # (text, baseline y)
    y: float
    total: int
    segments: list[Segment]
    total_x: float


@dataclass(frozen=True)
class Chart:
    title: str
    series: list[str]
    bars: list[Bar]
    width: int
    height: int
    bar_height: int

    @property
    def empty(self) -> bool:
        return all(bar.total == 0 for bar in self.bars)


def stacked_bars(title: str, series: list[str], rows: list[tuple[str, list[int]]]) -> Chart:
    """One bar per row, one segment per series value, scaled to the largest total."""
    largest = max((sum(values) for _label, values in rows), default=0) or 1
    scale = (WIDTH - TOTAL_ROOM) / largest
    bars: list[Bar] = []
    y = float(TOP)
    for label, values in rows:
        lines = textwrap.wrap(label, LINE_CHARS, break_long_words=True) or [""]
        label_lines = []
        for line in lines:
            y += LINE_HEIGHT
            label_lines.append((line, y - 4))
        x = 0.0
        segments = []
        for number, value in enumerate(values):
            if value:
                segments.append(Segment(number, value, x, value * scale))
                x += value * scale
        bars.append(Bar(label, label_lines, y, sum(values), segments, x + 6))
        y += BAR_HEIGHT + GAP
    return Chart(title, series, bars, WIDTH, int(y), BAR_HEIGHT)
