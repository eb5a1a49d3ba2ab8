"""The dashboard: cases over time by category (an SVG chart), the table by region, and the
week's figures, for the same filters as the queue; from `case.statistics`, as
`GET /v1/statistics/cases` answers, and a link to the same cases as a file (`/v1/exports/cases`)."""

from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse

from pantau_shared.contract import CaseState, Category
from pantau_shared.contract.queue import CASE_STATISTICS, CaseStatistics, StatisticsQuery
from pantau_shared.regions import WIB

from ..deps import StateDep
from .chart import DayCount, stacked_by_day
from .errors import console_router
from .forms import FormInvalid, build
from .identity import Officer, signed_in
from .rendering import render

router = console_router()
DAYS = 14
STATUSES = {
    "": "semua",
    "terbuka": "belum selesai",
    "selesai": "selesai",
}
_OPEN = [s for s in CaseState if s is not CaseState.CLOSED]
_STATES = {"": [], "terbuka": _OPEN, "selesai": [CaseState.CLOSED]}


def _category(key: str) -> Category | None:
    try:
        return Category(key)
    except ValueError:
        return None  # the statistics' key for cases without a category


def day_counts(figures: CaseStatistics) -> list[DayCount]:
    return [
        DayCount(day.day, _category(key), cases)
        for day in figures.by_day
        for key, cases in day.by_category.items()
    ]


def _date(text: str, fallback: date) -> date:
    try:
        return date.fromisoformat(text) if text else fallback
    except ValueError as error:
        raise FormInvalid("tanggal harus berbentuk TTTT-BB-HH") from error


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.0f} detik"
    if seconds < 3600:
        return f"{seconds / 60:.0f} menit"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} jam"
    return f"{seconds / 86400:.1f} hari"


@router.get("/dasbor", response_class=HTMLResponse)
async def dashboard(
    request: Request, state: StateDep, officer: Annotated[Officer, signed_in("read")]
) -> HTMLResponse:
    params = request.query_params
    today = datetime.now(WIB).date()
    context: dict[str, Any] = {"officer": officer, "page": "dashboard", "statuses": STATUSES, "error": None}
    try:
        last = _date(params.get("sampai", ""), today)
        first = _date(params.get("dari", ""), last - timedelta(days=DAYS - 1))
        status = params.get("status", "")
        fields: dict[str, Any] = {
            "state": _STATES.get(status, []),
            "category": params.getlist("category"),
            "region": params.get("region") or None,
            "opened_from": datetime.combine(first, time(), WIB),
            "opened_to": datetime.combine(last + timedelta(days=1), time(), WIB),
            "region_level": params.get("tingkat") or "regency",
        }
        query = build(lambda: StatisticsQuery.model_validate(fields))
    except FormInvalid as invalid:
        context.update(error=f"Filter tidak valid: {invalid.message}", figures=None, chart=None)
        context.update(first=today - timedelta(days=DAYS - 1), last=today, status="", params=params)
        return render(request, "dashboard.html", 422, **context)
    figures = await state.rpc.call(officer.agency_id, CASE_STATISTICS, query)
    exported = {k: v for k, v in query.model_dump(mode="json", exclude_defaults=True).items() if v}
    exported.pop("time_zone", None)
    exported.pop("region_level", None)
    context.update(
        figures=figures,
        chart=stacked_by_day(day_counts(figures), first, last),
        first=first,
        last=last,
        status=status,
        params=params,
        duration=duration,
        export=f"/v1/exports/cases?{urlencode(exported, doseq=True)}",
    )
    return render(request, "dashboard.html", **context)
