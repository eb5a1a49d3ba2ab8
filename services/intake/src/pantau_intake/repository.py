import json
from uuid import UUID

import asyncpg

from pantau_shared.contract import Reporter, ReportReceived

REPORT_COLUMNS = (
    "report_id",
    "agency_id",
    "channel",
    "submitted_at",
    "received_at",
    "text",
    "url",
    "canonical_url",
    "platform",
    "region_code",
    "author_handle",
    "raw_sha256",
    "content_sha256",
    "reporter_id",
    "sender_flagged",
    "sender_reports_today",
    "external_id",
    "forwarded",
    "attachments",
    "reach",
)


_N = len(REPORT_COLUMNS)
# One statement stores the report and its event, so it needs no explicit transaction (one round
# trip instead of four); a redelivered report inserts nothing, so stages no event either.
INSERT_WITH_EVENT = (
    f"WITH stored AS (INSERT INTO reports ({', '.join(REPORT_COLUMNS)}) VALUES "
    f"({', '.join(f'${i}' for i in range(1, _N + 1))}) "
    "ON CONFLICT (report_id) DO NOTHING RETURNING report_id) "
    f"INSERT INTO outbox (subject, headers, body) SELECT ${_N + 1}, ${_N + 2}::jsonb, ${_N + 3}"
    " FROM stored RETURNING true"
)


async def insert_report(
    conn: asyncpg.Connection, report: ReportReceived, event: tuple[str, str, bytes]
) -> bool:
    """Store the report with its outbox event; False when it was stored before."""
    values = report.model_dump(include=set(REPORT_COLUMNS))
    values["attachments"] = json.dumps(report.model_dump(mode="json")["attachments"])
    inserted = await conn.fetchval(INSERT_WITH_EVENT, *(values[c] for c in REPORT_COLUMNS), *event)
    return bool(inserted)


async def reporter_for(
    conn: asyncpg.Connection, contact_keys: list[str], new_id: str, reporter: Reporter
) -> str:
    """The reporter's pseudonym: the one any of their contacts already has, else `new_id`."""
    known = await conn.fetchval(
        "SELECT reporter_id FROM reporter_contacts WHERE contact_key = ANY($1::text[]) LIMIT 1", contact_keys
    )
    reporter_id = known or new_id
    await conn.executemany(
        "INSERT INTO reporter_contacts (contact_key, reporter_id, name, wants_updates) "
        "VALUES ($1, $2, $3, $4) ON CONFLICT (contact_key) DO UPDATE SET last_seen = now(), "
        "wants_updates = reporter_contacts.wants_updates OR EXCLUDED.wants_updates",
        [(key, reporter_id, reporter.name, reporter.wants_updates) for key in contact_keys],
    )
    return reporter_id


async def get_report(pool: asyncpg.Pool, agency_id: str, report_id: UUID) -> ReportReceived | None:
    row = await pool.fetchrow(
        f"SELECT {', '.join(REPORT_COLUMNS)} FROM reports WHERE report_id = $1 AND agency_id = $2",
        report_id,
        agency_id,
    )
    if row is None:
        return None
    return ReportReceived.model_validate(dict(row) | {"attachments": json.loads(row["attachments"])})


async def reporter_contacts(pool: asyncpg.Pool, agency_id: str, reporter_id: str) -> list[asyncpg.Record]:
    """A reporter's contacts, for an agency they reported to (never to any other)."""
    return await pool.fetch(
        "SELECT contact_key, name, wants_updates FROM reporter_contacts WHERE reporter_id = $1"
        " AND EXISTS (SELECT 1 FROM reports WHERE reporter_id = $1 AND agency_id = $2)",
        reporter_id,
        agency_id,
    )
