"""Evidence items, the case-to-report map and built bundles in intake's schema."""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from pantau_shared.contract import stable_id
from pantau_shared.contract.evidence import EvidenceItem
from pantau_shared.postgres import Connection

_ITEM_COLUMNS = (
    "item_id, report_id, observation_id, url, kind, status, sha256, size, media_type, fetched_at,"
    " reason, timestamp_state, timestamp_time, timestamp_tsa, timestamp_token"
)


@dataclass(frozen=True, slots=True)
class NewItem:
    agency_id: str
    report_id: UUID
    observation_id: UUID | None
    job_id: UUID | None
    url: str | None
    kind: str
    status: str
    sha256: str | None = None
    size: int | None = None
    media_type: str | None = None
    fetched_at: datetime | None = None
    reason: str | None = None

    @property
    def item_id(self) -> UUID:
        # The same item found by a second run of its job is the same row.
        return stable_id(
            "evidence.item", f"{self.report_id}:{self.kind}:{self.url}:{self.sha256 or self.status}"
        )


@dataclass(frozen=True, slots=True)
class Stored:
    """An item as read back, with its token for verification on read."""

    item: EvidenceItem
    token: bytes | None


async def insert_items(conn: Connection, items: list[NewItem], timestamp_state: str) -> list[NewItem]:
    """Store the items not stored yet; returns those that were new."""
    if not items:
        return []
    added = await conn.fetch(
        "INSERT INTO evidence_items (item_id, agency_id, report_id, observation_id, job_id, url, kind,"
        " status, sha256, size, media_type, fetched_at, reason, timestamp_state)"
        " SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::uuid[], $5::uuid[], $6::text[],"
        " $7::text[], $8::text[], $9::text[], $10::bigint[], $11::text[], $12::timestamptz[], $13::text[],"
        " $14::text[]) ON CONFLICT (item_id) DO NOTHING RETURNING item_id",
        [i.item_id for i in items],
        [i.agency_id for i in items],
        [i.report_id for i in items],
        [i.observation_id for i in items],
        [i.job_id for i in items],
        [i.url for i in items],
        [i.kind for i in items],
        [i.status for i in items],
        [i.sha256 for i in items],
        [i.size for i in items],
        [i.media_type for i in items],
        [i.fetched_at for i in items],
        [i.reason for i in items],
        [timestamp_state if i.status == "preserved" else "not_timestamped" for i in items],
    )
    new = {row["item_id"] for row in added}
    return [i for i in items if i.item_id in new]


def _item(row: object) -> Stored:
    values = dict(row)  # type: ignore[call-overload]
    token = values.pop("timestamp_token")
    values["timestamp"] = values.pop("timestamp_state")
    return Stored(EvidenceItem.model_validate(values), token)


async def items_of(conn: Connection, agency_id: str, report_ids: list[UUID]) -> list[Stored]:
    rows = await conn.fetch(
        f"SELECT {_ITEM_COLUMNS} FROM evidence_items WHERE agency_id = $1 AND report_id = ANY($2::uuid[])"
        " ORDER BY created_at, kind, url",
        agency_id,
        report_ids,
    )
    return [_item(row) for row in rows]


async def items_with_hash(conn: Connection, agency_id: str, sha256: str) -> list[Stored]:
    rows = await conn.fetch(
        f"SELECT {_ITEM_COLUMNS} FROM evidence_items WHERE agency_id = $1 AND sha256 = $2"
        " AND status = 'preserved' ORDER BY created_at",
        agency_id,
        sha256,
    )
    return [_item(row) for row in rows]


async def unstamped(conn: Connection, limit: int, max_attempts: int) -> list[tuple[UUID, str]]:
    rows = await conn.fetch(
        "SELECT item_id, sha256 FROM evidence_items WHERE timestamp_state = 'pending'"
        " AND status = 'preserved' AND timestamp_attempts < $2 ORDER BY created_at LIMIT $1",
        limit,
        max_attempts,
    )
    return [(row["item_id"], row["sha256"]) for row in rows]


async def stamped(
    conn: Connection, item_id: UUID, token: bytes, at: datetime, tsa: str
) -> tuple[str, UUID] | None:
    """Keep the token; None when another worker stamped the item first."""
    row = await conn.fetchrow(
        "UPDATE evidence_items SET timestamp_state = 'stamped', timestamp_token = $2, timestamp_time = $3,"
        " timestamp_tsa = $4 WHERE item_id = $1 AND timestamp_state = 'pending'"
        " RETURNING agency_id, report_id",
        item_id,
        token,
        at,
        tsa,
    )
    return (row["agency_id"], row["report_id"]) if row is not None else None


async def stamp_failed(conn: Connection, item_id: UUID, max_attempts: int) -> None:
    await conn.execute(
        "UPDATE evidence_items SET timestamp_attempts = timestamp_attempts + 1,"
        " timestamp_state = CASE WHEN timestamp_attempts + 1 >= $2 THEN 'failed' ELSE timestamp_state END"
        " WHERE item_id = $1",
        item_id,
        max_attempts,
    )


async def attach_to_cases(conn: Connection, links: list[tuple[UUID, str, UUID]]) -> None:
    """(case, agency, report) of a whole batch of case events, in one statement."""
    if not links:
        return
    # In key order, the order every instance uses, so two batches cannot deadlock.
    ordered = sorted({(case_id, report_id): agency_id for case_id, agency_id, report_id in links}.items())
    await conn.execute(
        "INSERT INTO evidence_case_reports (case_id, agency_id, report_id)"
        " SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[]) ON CONFLICT DO NOTHING",
        [case_id for (case_id, _), _ in ordered],
        [agency_id for _, agency_id in ordered],
        [report_id for (_, report_id), _ in ordered],
    )


async def reports_of_case(conn: Connection, agency_id: str, case_id: UUID) -> list[UUID]:
    rows = await conn.fetch(
        "SELECT report_id FROM evidence_case_reports WHERE agency_id = $1 AND case_id = $2"
        " ORDER BY report_id",
        agency_id,
        case_id,
    )
    return [row["report_id"] for row in rows]


async def record_bundle(
    conn: Connection, agency_id: str, case_id: UUID, sha256: str, size: int, items: int, actor: str
) -> datetime:
    built: datetime = await conn.fetchval(
        "INSERT INTO evidence_bundles (sha256, agency_id, case_id, size, items, actor)"
        " VALUES ($1, $2, $3, $4, $5, $6)"
        " ON CONFLICT (agency_id, sha256) DO UPDATE SET actor = excluded.actor"
        " RETURNING built_at",
        sha256,
        agency_id,
        case_id,
        size,
        items,
        actor,
    )
    return built


async def bundle_size(conn: Connection, agency_id: str, sha256: str) -> int | None:
    size = await conn.fetchval(
        "SELECT size FROM evidence_bundles WHERE agency_id = $1 AND sha256 = $2", agency_id, sha256
    )
    return int(size) if size is not None else None


async def delete_report_items(conn: Connection, agency_id: str, report_id: UUID, at: datetime) -> list[str]:
    """Mark the report's kept items deleted; returns the hashes no other kept item still holds."""
    rows = await conn.fetch(
        "UPDATE evidence_items SET status = 'deleted', deleted_at = $3"
        " WHERE agency_id = $1 AND report_id = $2 AND status = 'preserved' RETURNING sha256",
        agency_id,
        report_id,
        at,
    )
    hashes = sorted({row["sha256"] for row in rows})
    still = await conn.fetch(
        "SELECT DISTINCT sha256 FROM evidence_items WHERE sha256 = ANY($1::text[]) AND status = 'preserved'",
        hashes,
    )
    held = {row["sha256"] for row in still}
    return [h for h in hashes if h not in held]
