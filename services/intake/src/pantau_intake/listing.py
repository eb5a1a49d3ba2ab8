"""Pages of the agency's reports (`report.list`), newest first: content and evidence hashes, never
the reporter's contact (which lives in its own table) nor the contact cards a report carried."""

import json
from datetime import datetime
from uuid import UUID

import asyncpg

from pantau_shared import paging
from pantau_shared.contract.queue import ReportListQuery, ReportPage, ReportSummary

COLUMNS = (
    "report_id, agency_id, channel, submitted_at, received_at, platform, region_code, text, url,"
    " canonical_url, author_handle, raw_sha256, content_sha256, attachments, reporter_id"
)
KIND = "reports"


def summary(row: asyncpg.Record) -> ReportSummary:
    attachments = json.loads(row["attachments"])
    hashes = [a["sha256"] for a in attachments if a.get("sha256")]
    return ReportSummary.model_validate({**dict(row), "attachment_sha256": hashes})


class ReportListing:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def list_reports(self, agency_id: str, query: ReportListQuery) -> ReportPage:
        where = paging.Where([agency_id], ["agency_id = $1"])
        if query.report_ids:
            where.add(f"report_id = ANY({where.param(query.report_ids)}::uuid[])")
        if query.channel:
            where.add(f"channel = ANY({where.param([c.value for c in query.channel])}::text[])")
        if query.region is not None:
            where.add(f"starts_with(region_code, {where.param(query.region)})")
        if query.received_from is not None:
            where.add(f"received_at >= {where.param(query.received_from)}")
        if query.received_to is not None:
            where.add(f"received_at < {where.param(query.received_to)}")
        if query.cursor is not None:
            where.after("received_at, report_id", query.cursor, KIND, (datetime, UUID), descending=True)
        rows = await self._pool.fetch(
            f"SELECT {COLUMNS} FROM reports WHERE {where.sql()}"
            f" ORDER BY received_at DESC, report_id DESC LIMIT {where.param(query.limit + 1)}",
            *where.args,
        )
        return ReportPage(
            reports=[summary(row) for row in rows[: query.limit]],
            next_cursor=paging.next_cursor(rows, query.limit, KIND, ("received_at", "report_id")),
        )
