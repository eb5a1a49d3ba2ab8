"""The queue: the agency's cases and those routed to it, filtered as `GET /v1/cases` filters.

The filter form is a plain GET form, so a filtered queue is a link an officer can bookmark or
send to a colleague; paging follows the API's cursor.
"""

from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse

from pantau_shared.bus import RpcError
from pantau_shared.contract.queue import (
    CASE_LIST,
    DELIVERY_LIST,
    CaseListQuery,
    CaseScope,
    CaseSort,
    CaseSource,
    DeliveryListQuery,
)
from pantau_shared.regions import zone_of

from .. import users
from ..deps import StateDep
from .errors import console_router
from .forms import FormInvalid, build
from .identity import Officer, signed_in
from .rendering import render

router = console_router()
SORTS = {
    CaseSort.PRIORITY: "prioritas tertinggi",
    CaseSort.OLDEST: "menunggu paling lama",
    CaseSort.NEWEST: "terbaru",
    CaseSort.UPDATED: "perubahan terakhir",
}
SCOPES = {
    CaseScope.ALL: "semua",
    CaseScope.OWNED: "milik instansi",
    CaseScope.ROUTED: "diteruskan ke instansi",
}
SOURCES = {"": "semua", CaseSource.REPORT: "laporan", CaseSource.MONITORING: "pemantauan akun"}
MINE, NOBODY = "saya", "belum"


def _day(text: str, region: str | None, end: bool) -> datetime | None:
    """A date of the form as the start (or the end) of that day in the region's local time."""
    if not text:
        return None
    day = date.fromisoformat(text) + timedelta(days=1 if end else 0)
    return datetime.combine(day, time(), zone_of(region))


def query_of(params: dict[str, list[str]], officer: Officer) -> CaseListQuery:
    first = {key: values[0].strip() for key, values in params.items() if values and values[0].strip()}
    region = first.get("region")
    assignee = first.get("assignee", "")
    try:
        opened_from = _day(first.get("dari", ""), region, end=False)
        opened_to = _day(first.get("sampai", ""), region, end=True)
    except ValueError as error:
        raise FormInvalid("tanggal harus berbentuk TTTT-BB-HH") from error
    fields: dict[str, Any] = {
        "state": params.get("state", []),
        "category": params.get("category", []),
        "min_priority": first.get("min_priority"),
        "region": region,
        "scope": first.get("scope", CaseScope.ALL),
        "source": first.get("source"),
        "assignee": officer.principal.id
        if assignee == MINE
        else (None if assignee in ("", NOBODY) else assignee),
        "unassigned": assignee == NOBODY,
        "opened_from": opened_from,
        "opened_to": opened_to,
        "text": first.get("text"),
        "sort": first.get("sort", CaseSort.PRIORITY),
        "cursor": first.get("cursor"),
    }
    return build(lambda: CaseListQuery.model_validate({k: v for k, v in fields.items() if v is not None}))


@router.get("/", response_class=HTMLResponse)
async def queue(
    request: Request, state: StateDep, officer: Annotated[Officer, signed_in("read")]
) -> HTMLResponse:
    params = {key: request.query_params.getlist(key) for key in request.query_params}
    staff = await users.listed(state.infra.pool, officer.agency_id)
    context: dict[str, Any] = {
        "officer": officer,
        "page": "queue",
        "params": params,
        "sorts": SORTS,
        "scopes": SCOPES,
        "sources": SOURCES,
        "mine": MINE,
        "nobody": NOBODY,
        "names": {str(u.user_id): u.name for u in staff},
        "cases": [],
        "next_page": None,
        "error": None,
        "waiting": None,
    }
    try:
        query = query_of(params, officer)
    except FormInvalid as invalid:
        context["error"] = f"Filter tidak valid: {invalid.message}"
        return render(request, "queue.html", 422, **context)
    page = await state.rpc.call(officer.agency_id, CASE_LIST, query)
    context["cases"] = page.cases
    try:
        # The alerts nobody has taken yet, above the queue: what the patrol on duty answers first.
        waiting = await state.rpc.call(
            officer.agency_id, DELIVERY_LIST, DeliveryListQuery(unacknowledged=True, limit=10)
        )
        context["waiting"] = waiting.notifications
    except RpcError:
        context["waiting"] = None
    if page.next_cursor:
        kept = [(k, v) for k, values in params.items() if k != "cursor" for v in values]
        context["next_page"] = "?" + urlencode([*kept, ("cursor", page.next_cursor)])
    return render(request, "queue.html", **context)
