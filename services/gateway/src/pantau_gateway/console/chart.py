"""The dashboard's chart, drawn on the server as SVG: cases opened per day, stacked by category.

No chart library and no script: the figures are already counted by the statistics query, so the
page only needs rectangles, and an SVG reads the same in every browser, prints, and can be saved.
"""

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from pantau_shared.contract import TAXONOMY, Category

# One colour per category, distinct for the common kinds of colour blindness (Okabe-Ito and
# Tol's muted scheme), in the taxonomy's order; cases without a category are grey.
COLOURS = {
    Category.HOAKS: "#0072b2",
    Category.UJARAN_KEBENCIAN: "#d55e00",
    Category.SARA: "#cc79a7",
    Category.HASUTAN: "#e69f00",
    Category.POLITIK_UANG: "#009e73",
    Category.NETRALITAS_ASN: "#56b4e9",
    Category.KAMPANYE_LUAR_JADWAL: "#882255",
    Category.PENGHINAAN: "#999933",
}
UNCLASSIFIED = "belum terklasifikasi"
UNCLASSIFIED_COLOUR = "#bbbbbb"

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 40, 10, 10, 40


@dataclass(frozen=True)
class DayCount:
    """Cases opened on one day with one category (None: not classified)."""

    day: date
    category: Category | None
    cases: int


@dataclass(frozen=True)
class Segment:
    x: float
    y: float
    width: float
    height: float
    colour: str
    title: str


@dataclass(frozen=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True)
class DayLabel:
    x: float
    label: str


@dataclass(frozen=True)
class LegendEntry:
    key: str
    colour: str
    label: str
    cases: int


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    segments: list[Segment]
    ticks: list[Tick]
    days: list[DayLabel]
    legend: list[LegendEntry]
    total: int
    baseline: float


def _label(category: Category | None) -> str:
    return TAXONOMY[category].label if category is not None else UNCLASSIFIED


def _colour(category: Category | None) -> str:
    return COLOURS[category] if category is not None else UNCLASSIFIED_COLOUR


def _step(maximum: int) -> int:
    """A tick step of 1, 2 or 5 times a power of ten giving four or five ticks."""
    if maximum <= 5:
        return 1
    raw = maximum / 4
    power: int = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def _days(counts: Sequence[DayCount], first: date | None, last: date | None) -> list[date]:
    known = [c.day for c in counts]
    start = first or min(known, default=None)
    end = last or max(known, default=None)
    if start is None or end is None or end < start:
        return []
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def stacked_by_day(counts: Iterable[DayCount], first: date | None = None, last: date | None = None) -> Chart:
    """Every day from `first` to `last` (else the days in `counts`) as a bar, empty days included,
    so a quiet day shows as a gap rather than disappearing."""
    counts = [c for c in counts if c.cases > 0]
    days = _days(counts, first, last)
    order = [*TAXONOMY, None]
    per_day: dict[date, dict[Category | None, int]] = {d: {} for d in days}
    for c in counts:
        if c.day in per_day:
            per_day[c.day][c.category] = per_day[c.day].get(c.category, 0) + c.cases
    peak = max((sum(v.values()) for v in per_day.values()), default=0)
    step = _step(peak)
    top = max(step, math.ceil(peak / step) * step)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(days), 1)
    bar = max(1.0, slot * 0.7)
    segments: list[Segment] = []
    labels: list[DayLabel] = []
    every = max(1, math.ceil(len(days) / 10))
    for index, day in enumerate(days):
        x = LEFT + index * slot + (slot - bar) / 2
        y = float(TOP + plot_h)
        for category in order:
            cases = per_day[day].get(category, 0)
            if not cases:
                continue
            height = plot_h * cases / top
            y -= height
            segments.append(
                Segment(
                    round(x, 1),
                    round(y, 1),
                    round(bar, 1),
                    round(height, 1),
                    _colour(category),
                    f"{day:%d-%m-%Y}: {cases} kasus {_label(category)}",
                )
            )
        if index % every == 0:
            labels.append(DayLabel(round(x + bar / 2, 1), f"{day:%d/%m}"))
    ticks = [Tick(round(TOP + plot_h - plot_h * v / top, 1), str(v)) for v in range(0, top + 1, step)]
    totals: dict[Category | None, int] = {}
    for day_counts in per_day.values():
        for category, cases in day_counts.items():
            totals[category] = totals.get(category, 0) + cases
    legend = [LegendEntry(c or "", _colour(c), _label(c), totals[c]) for c in order if totals.get(c)]
    return Chart(WIDTH, HEIGHT, segments, ticks, labels, legend, sum(totals.values()), float(TOP + plot_h))
