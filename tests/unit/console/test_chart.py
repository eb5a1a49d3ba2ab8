"""The dashboard's SVG chart: pure geometry from counted figures."""

from datetime import date
from itertools import pairwise

from pytest import approx

from pantau_gateway.console.chart import BOTTOM, HEIGHT, TOP, DayCount, stacked_by_day
from pantau_shared.contract import Category

D1, D2, D3 = date(2024, 2, 11), date(2024, 2, 12), date(2024, 2, 13)


def test_every_day_of_the_range_is_a_slot_and_a_quiet_day_has_no_bar() -> None:
    chart = stacked_by_day(
        [DayCount(D1, Category.HOAKS, 2), DayCount(D3, Category.HOAKS, 1)], first=D1, last=D3
    )
    assert [d.label for d in chart.days] == ["11/02", "12/02", "13/02"]
    assert len(chart.segments) == 2
    assert chart.segments[0].x < chart.days[1].x < chart.segments[1].x
    assert chart.total == 3


def test_segments_stack_in_taxonomy_order_and_heights_are_proportional() -> None:
    chart = stacked_by_day(
        [
            DayCount(D1, Category.POLITIK_UANG, 1),
            DayCount(D1, Category.HOAKS, 3),
            DayCount(D1, None, 1),
        ]
    )
    hoaks, money, unclassified = chart.segments
    assert "Hoaks" in hoaks.title and "Politik uang" in money.title and "belum" in unclassified.title
    # Stacked upwards from the baseline, touching (coordinates are rounded to 0.1).
    assert hoaks.y + hoaks.height == approx(chart.baseline, abs=0.11)
    assert money.y + money.height == approx(hoaks.y, abs=0.11)
    assert unclassified.y + unclassified.height == approx(money.y, abs=0.11)
    assert hoaks.height == approx(3 * money.height, abs=0.2)
    assert money.height == approx(unclassified.height, abs=0.1)
    assert [e.key for e in chart.legend] == ["hoaks", "politik_uang", ""]
    assert [e.cases for e in chart.legend] == [3, 1, 1]


def test_the_axis_ends_on_a_round_tick_above_the_tallest_bar() -> None:
    chart = stacked_by_day([DayCount(D1, Category.SARA, 37), DayCount(D2, Category.SARA, 12)])
    labels = [int(t.label) for t in chart.ticks]
    assert labels[0] == 0 and labels[-1] >= 37
    assert len({b - a for a, b in pairwise(labels)}) == 1
    tallest = max(s.height for s in chart.segments)
    assert tallest <= HEIGHT - TOP - BOTTOM
    assert tallest == approx((HEIGHT - TOP - BOTTOM) * 37 / labels[-1], abs=0.1)


def test_no_cases_gives_an_empty_chart_with_a_zero_axis() -> None:
    chart = stacked_by_day([], first=D1, last=D2)
    assert chart.segments == [] and chart.legend == [] and chart.total == 0
    assert [t.label for t in chart.ticks] == ["0", "1"]
    assert len(chart.days) == 2
