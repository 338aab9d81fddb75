"""Horizontal stacked bar charts as geometry for an inline SVG (templates/web/_chart.html)."""

from __future__ import annotations

from dataclasses import dataclass

WIDTH = 720
LABEL_WIDTH = 220
BAR_HEIGHT = 22
GAP = 10
TOP = 8
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
    label_width: int
    bar_height: int

    @property
    def empty(self) -> bool:
        return all(bar.total == 0 for bar in self.bars)


def stacked_bars(title: str, series: list[str], rows: list[tuple[str, list[int]]]) -> Chart:
    """One bar per row, one segment per series value, scaled to the largest total."""
    largest = max((sum(values) for _label, values in rows), default=0) or 1
    scale = (WIDTH - LABEL_WIDTH - TOTAL_ROOM) / largest
    bars: list[Bar] = []
    for index, (label, values) in enumerate(rows):
        y = TOP + index * (BAR_HEIGHT + GAP)
        x = float(LABEL_WIDTH)
        segments = []
        for number, value in enumerate(values):
            if value:
                segments.append(Segment(number, value, x, value * scale))
                x += value * scale
        bars.append(Bar(label, y, sum(values), segments, x + 6))
    height = TOP * 2 + len(rows) * (BAR_HEIGHT + GAP)
    return Chart(title, series, bars, WIDTH, height, LABEL_WIDTH, BAR_HEIGHT)
