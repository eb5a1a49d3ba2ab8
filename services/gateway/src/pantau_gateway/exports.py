"""Case exports for Bawaslu's finding and report forms: CSV, NDJSON or an Excel workbook.

One row a case, with what the forms ask: when and where it happened (the first report's time,
in the region's own time zone), who (the accounts reported), what (summary, categories and the
articles of law they rest on), the evidence (SHA-256 hashes and links of the reports), and where
the case stands. Filtered and sorted as the queue is.

Streamed: the gateway reads the queue a page at a time (triage's `case.export`, then intake's
`report.list` for the page's reports) and writes each page out before asking for the next, so
memory stays flat however many cases there are (bench/exports.py measures it). A workbook is a
zip written at its end, so it is built in a temporary file (write-only mode, constant memory)
and then streamed from there.
"""

import asyncio
import csv
import io
import tempfile
from collections.abc import AsyncIterator, Iterable
from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from openpyxl import Workbook
from pydantic import BaseModel, ConfigDict

from pantau_shared.bus import RpcClient, RpcError
from pantau_shared.contract import TAXONOMY
from pantau_shared.contract.queue import (
    CASE_EXPORT,
    REPORT_LIST,
    CaseFilter,
    CaseListQuery,
    CaseSort,
    ExportCase,
    ReportListQuery,
    ReportSummary,
)
from pantau_shared.contract.rpc import ErrorCode, Method, RequestT, ResponseT
from pantau_shared.regions import local_time, zone_of

from .deps import StateDep
from .roles import ALL_ROLES, Principal, Scope, require

router = APIRouter(prefix="/v1")
PAGE = 50
RETRIES = 3
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "ndjson": "application/x-ndjson",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
# A spreadsheet runs a cell that starts with one of these as a formula (OWASP: CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class ExportQuery(CaseFilter):
    format: Literal["csv", "ndjson", "xlsx"] = "csv"
    sort: CaseSort = CaseSort.OLDEST


class ExportRow(BaseModel):
    """One case as the forms need it (an NDJSON line; the CSV and workbook columns, in order)."""

    model_config = ConfigDict(frozen=True)

    case_id: UUID
    state: str
    resolution: str | None
    opened_at: datetime
    event_at: datetime | None
    event_local_time: str | None
    region_code: str | None
    platform: str
    url: str | None
    authors: list[str]
    summary: str
    categories: list[str]
    legal_basis: list[str]
    priority: int
    priority_level: str
    assignee: str | None
    source: str
    report_count: int
    reporter_count: int
    routed_to: list[str]
    evidence_sha256: list[str]
    evidence_urls: list[str]
    report_ids: list[UUID]


# Column headings in the forms' language, in ExportRow's field order.
HEADINGS = {
    "case_id": "nomor_kasus",
    "state": "status",
    "resolution": "penyelesaian",
    "opened_at": "dibuka_pada_utc",
    "event_at": "waktu_kejadian_utc",
    "event_local_time": "waktu_kejadian_setempat",
    "region_code": "kode_wilayah",
    "platform": "platform",
    "url": "tautan_konten",
    "authors": "terlapor_akun",
    "summary": "uraian_kejadian",
    "categories": "kategori",
    "legal_basis": "pasal_yang_dilanggar",
    "priority": "prioritas",
    "priority_level": "tingkat_prioritas",
    "assignee": "petugas",
    "source": "sumber",
    "report_count": "jumlah_laporan",
    "reporter_count": "jumlah_pelapor",
    "routed_to": "diteruskan_ke",
    "evidence_sha256": "bukti_sha256",
    "evidence_urls": "bukti_tautan",
    "report_ids": "nomor_laporan",
}


def row(case: ExportCase, reports: dict[UUID, ReportSummary]) -> ExportRow:
    found = [reports[r] for r in case.report_ids if r in reports]
    first = min((r.submitted_at for r in found), default=None)
    hashes = [case.content_sha256] if case.content_sha256 else []
    for report in found:
        hashes += [report.raw_sha256, *report.attachment_sha256]
    infos = [TAXONOMY[c.category] for c in case.categories]
    return ExportRow(
        case_id=case.case_id,
        state=case.state.value,
        resolution=case.resolution.value if case.resolution else None,
        opened_at=case.opened_at,
        event_at=first,
        event_local_time=local_time(first, case.region_code) if first else None,
        region_code=case.region_code,
        platform=case.platform.value,
        url=case.canonical_url,
        authors=list(dict.fromkeys(r.author_handle for r in found if r.author_handle)),
        summary=case.summary,
        categories=[info.label for info in infos],
        legal_basis=list(dict.fromkeys(article for info in infos for article in info.legal_basis)),
        priority=case.priority,
        priority_level=case.priority_level.value,
        assignee=case.assignee,
        source=case.source.value,
        report_count=case.report_count,
        reporter_count=case.reporter_count,
        routed_to=case.routed_to,
        evidence_sha256=list(dict.fromkeys(hashes)),
        evidence_urls=list(dict.fromkeys(u for r in found for u in (r.url, r.canonical_url) if u)),
        report_ids=case.report_ids,
    )


def cells(export: ExportRow) -> list[str | int | None]:
    values: list[str | int | None] = []
    for name in HEADINGS:
        value = getattr(export, name)
        if isinstance(value, list):
            value = "; ".join(str(v) for v in value)
        elif isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, UUID):
            value = str(value)
        if isinstance(value, str) and value.startswith(FORMULA_STARTS):
            value = "'" + value
        values.append(value)
    return values


async def rows(rpc: RpcClient, agency_id: str, query: ExportQuery) -> AsyncIterator[list[ExportRow]]:
    """The export a page at a time; the first page is read before the response starts, so a
    refusal is still a problem and not a cut-off file."""
    listing = CaseListQuery.model_validate({**query.model_dump(exclude={"format"}), "limit": PAGE})
    while True:
        page = await _ask(rpc, agency_id, CASE_EXPORT, listing)
        reports = await _reports(rpc, agency_id, [r for case in page.cases for r in case.report_ids])
        yield [row(case, reports) for case in page.cases]
        if page.next_cursor is None:
            return
        listing = listing.model_copy(update={"cursor": page.next_cursor})


async def _ask(
    rpc: RpcClient, agency_id: str, method: Method[RequestT, ResponseT], query: RequestT
) -> ResponseT:
    """A page, asked again once if it timed out: a query is safe to repeat, and a long export
    should not end in a cut-off file for one slow page."""
    for attempt in range(1, RETRIES + 1):
        try:
            return await rpc.call(agency_id, method, query)
        except RpcError as error:
            if error.code not in (ErrorCode.TIMEOUT, ErrorCode.UNAVAILABLE) or attempt == RETRIES:
                raise
    raise AssertionError("unreachable")


async def _reports(rpc: RpcClient, agency_id: str, report_ids: list[UUID]) -> dict[UUID, ReportSummary]:
    found: dict[UUID, ReportSummary] = {}
    for start in range(0, len(report_ids), 200):
        query = ReportListQuery(report_ids=report_ids[start : start + 200], limit=200)
        for report in (await _ask(rpc, agency_id, REPORT_LIST, query)).reports:
            found[report.report_id] = report
    return found


def _csv(lines: Iterable[list[str | int | None]]) -> str:
    out = io.StringIO()
    csv.writer(out).writerows(lines)
    return out.getvalue()


async def _encoded(
    pages: AsyncIterator[list[ExportRow]], first: list[ExportRow], fmt: str
) -> AsyncIterator[bytes]:
    if fmt == "csv":
        # A byte-order mark: Excel opens UTF-8 CSV as Windows-1252 without it.
        yield ("\ufeff" + _csv([list(HEADINGS.values())])).encode()
    page: list[ExportRow] | None = first
    while page is not None:
        if fmt == "csv":
            yield _csv(cells(export) for export in page).encode()
        else:
            yield b"".join(export.model_dump_json().encode() + b"\n" for export in page)
        page = await anext(pages, None)


async def _workbook(pages: AsyncIterator[list[ExportRow]], first: list[ExportRow]) -> AsyncIterator[bytes]:
    with tempfile.TemporaryFile() as file:
        book = Workbook(write_only=True)
        sheet = book.create_sheet("kasus")
        sheet.append(list(HEADINGS.values()))
        page: list[ExportRow] | None = first
        while page is not None:
            for export in page:
                sheet.append(cells(export))
            page = await anext(pages, None)
        await asyncio.to_thread(book.save, file)
        file.seek(0)
        while chunk := file.read(64 * 1024):
            yield chunk


@router.get(
    "/exports/cases",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "One row a case: CSV (headings in Bahasa Indonesia), NDJSON (ExportRow) or XLSX",
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/x-ndjson": {"schema": {"type": "string"}},
                MEDIA_TYPES["xlsx"]: {"schema": {"type": "string", "format": "binary"}},
            },
        },
        422: {},
    },
)
async def export_cases(
    query: Annotated[ExportQuery, Query()],
    state: StateDep,
    caller: Annotated[Principal, require(*ALL_ROLES, scope=Scope.EXPORTS_READ)],
) -> StreamingResponse:
    """Every case the filter selects (the queue's filters), for the finding and report forms:
    time and place of the event, the accounts reported, what happened, the articles of law,
    evidence hashes and links. `format=csv` (default), `ndjson` or `xlsx`."""
    pages = rows(state.rpc, caller.agency_id, query)
    first = await anext(pages)
    body = _workbook(pages, first) if query.format == "xlsx" else _encoded(pages, first, query.format)
    stamp = datetime.now(zone_of(None)).strftime("%Y%m%d-%H%M")
    return StreamingResponse(
        body,
        media_type=MEDIA_TYPES[query.format],
        headers={"Content-Disposition": f'attachment; filename="kasus-{stamp}.{query.format}"'},
    )
