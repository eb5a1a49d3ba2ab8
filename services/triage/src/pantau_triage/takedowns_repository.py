"""What triage keeps of takedowns: the requests, the platforms' answers, the re-checks, and the
schedule of re-checks that several triage replicas share through leases."""

from collections.abc import Sequence
from datetime import UTC, datetime
from uuid import UUID

import asyncpg
from pydantic import BaseModel, ConfigDict

from pantau_shared.contract import Platform, new_id
from pantau_shared.contract.queue import Durations
from pantau_shared.contract.takedowns import (
    LegalBasis,
    PlatformTakedowns,
    RecheckOutcome,
    RecheckView,
    RemovalKind,
    TakedownChannel,
    TakedownRequestIn,
    TakedownResponseView,
    TakedownStatistics,
    TakedownStatus,
    takedown_deadline,
)
from pantau_shared.postgres import Connection

OPEN = "('requested', 'acknowledged', 'overdue')"


class Takedown(BaseModel):
    model_config = ConfigDict(frozen=True)

    takedown_id: UUID
    case_id: UUID
    agency_id: str
    url: str
    platform: Platform
    legal_basis: LegalBasis
    channel: TakedownChannel
    urgent: bool
    platform_request_id: str | None
    requested_at: datetime
    deadline_at: datetime
    requested_by: str
    status: TakedownStatus
    overdue_at: datetime | None
    last_seen_live_at: datetime | None
    removed_at: datetime | None
    removal_kind: RemovalKind | None
    next_check_at: datetime | None
    checks: int

    @classmethod
    def new(
        cls, case_id: UUID, agency_id: str, request: TakedownRequestIn, requested_at: datetime
    ) -> "Takedown":
        """A request as recorded: its deadline from the urgency, its first re-check due at once."""
        return cls(
            takedown_id=new_id(),
            case_id=case_id,
            agency_id=agency_id,
            url=request.url,
            platform=request.platform,
            legal_basis=request.legal_basis,
            channel=request.channel,
            urgent=request.urgent,
            platform_request_id=request.platform_request_id,
            requested_at=requested_at,
            deadline_at=takedown_deadline(requested_at, request.urgent),
            requested_by=request.actor,
            status=TakedownStatus.REQUESTED,
            overdue_at=None,
            last_seen_live_at=None,
            removed_at=None,
            removal_kind=None,
            next_check_at=datetime.now(UTC),
            checks=0,
        )


COLUMNS = ", ".join(Takedown.model_fields)
SELECT = f"SELECT {COLUMNS} FROM takedowns"


def _parse(row: asyncpg.Record | None) -> Takedown | None:
    return None if row is None else Takedown.model_validate(dict(row))


async def insert(
    conn: Connection, takedown: Takedown, command_id: UUID, principal: str | None, note: str | None
) -> bool:
    """False when the command was applied before (its takedown is then `by_command`'s)."""
    values = takedown.model_dump()
    inserted = await conn.fetchval(
        f"INSERT INTO takedowns ({COLUMNS}, command_id, principal, note)"
        f" VALUES ({', '.join(f'${i}' for i in range(1, len(values) + 4))})"
        " ON CONFLICT (command_id) DO NOTHING RETURNING true",
        *[v.value if hasattr(v, "value") else v for v in values.values()],
        command_id,
        principal,
        note,
    )
    return bool(inserted)


async def by_command(conn: Connection, command_id: UUID) -> UUID | None:
    found: UUID | None = await conn.fetchval(
        "SELECT takedown_id FROM takedowns WHERE command_id = $1", command_id
    )
    return found


async def get(conn: asyncpg.Pool | Connection, takedown_id: UUID) -> Takedown | None:
    return _parse(await conn.fetchrow(f"{SELECT} WHERE takedown_id = $1", takedown_id))


async def lock(conn: Connection, takedown_id: UUID) -> Takedown | None:
    return _parse(await conn.fetchrow(f"{SELECT} WHERE takedown_id = $1 FOR UPDATE", takedown_id))


async def of_case(conn: asyncpg.Pool | Connection, case_id: UUID) -> list[Takedown]:
    rows = await conn.fetch(f"{SELECT} WHERE case_id = $1 ORDER BY requested_at, takedown_id", case_id)
    return [Takedown.model_validate(dict(row)) for row in rows]


async def open_on_case(conn: Connection, case_id: UUID, agency_id: str | None = None) -> int:
    """The case's open takedowns: every agency's, or `agency_id`'s alone."""
    count: int = await conn.fetchval(
        f"SELECT count(*) FROM takedowns WHERE case_id = $1 AND status IN {OPEN}"
        " AND ($2::text IS NULL OR agency_id = $2)",
        case_id,
        agency_id,
    )
    return count


async def responses(conn: asyncpg.Pool | Connection, takedown_id: UUID) -> list[TakedownResponseView]:
    rows = await conn.fetch(
        "SELECT kind, reason, platform_request_id, responded_at, actor, note FROM takedown_responses"
        " WHERE takedown_id = $1 ORDER BY responded_at, recorded_at",
        takedown_id,
    )
    return [TakedownResponseView.model_validate(dict(row)) for row in rows]


async def recent_checks(
    conn: asyncpg.Pool | Connection, takedown_id: UUID, limit: int = 10
) -> list[RecheckView]:
    rows = await conn.fetch(
        "SELECT checked_at, outcome, http_status, removal_kind, detail FROM takedown_checks"
        " WHERE takedown_id = $1 ORDER BY id DESC LIMIT $2",
        takedown_id,
        limit,
    )
    return [RecheckView.model_validate(dict(row)) for row in rows]


async def insert_response(
    conn: Connection,
    takedown_id: UUID,
    command_id: UUID,
    view: TakedownResponseView,
    principal: str | None,
) -> UUID | None:
    """The new response's id; None when the command was applied before."""
    found: UUID | None = await conn.fetchval(
        "INSERT INTO takedown_responses (response_id, takedown_id, command_id, kind, reason,"
        " platform_request_id, responded_at, actor, principal, note)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        " ON CONFLICT (command_id) DO NOTHING RETURNING response_id",
        new_id(),
        takedown_id,
        command_id,
        view.kind.value,
        view.reason,
        view.platform_request_id,
        view.responded_at,
        view.actor,
        principal,
        view.note,
    )
    return found


async def update(conn: Connection, takedown_id: UUID, **fields: object) -> None:
    names = list(fields)
    assignments = ", ".join(f"{name} = ${i}" for i, name in enumerate(names, start=2))
    await conn.execute(
        f"UPDATE takedowns SET {assignments} WHERE takedown_id = $1",
        takedown_id,
        *[v.value if hasattr(v, "value") else v for v in fields.values()],
    )


async def claim_due(
    conn: Connection, owner: str, now: datetime, lease_s: float, limit: int
) -> list[Takedown]:
    """Up to `limit` open takedowns due for a re-check, leased to `owner`; another replica's
    rows (locked or leased) are skipped, so each is fetched by one replica at a time."""
    rows = await conn.fetch(
        f"UPDATE takedowns SET lease_owner = $1, lease_until = $2 + make_interval(secs => $3)"
        f" WHERE takedown_id IN (SELECT takedown_id FROM takedowns WHERE status IN {OPEN}"
        "   AND next_check_at <= $2 AND (lease_until IS NULL OR lease_until < $2)"
        "   ORDER BY next_check_at LIMIT $4 FOR UPDATE SKIP LOCKED)"
        f" RETURNING {COLUMNS}",
        owner,
        now,
        lease_s,
        limit,
    )
    return [Takedown.model_validate(dict(row)) for row in rows]


async def lock_leased(conn: Connection, takedown_id: UUID, owner: str) -> Takedown | None:
    """The takedown, locked, if `owner` still holds its lease (a lease that ran out may have
    gone to another replica, whose re-check then counts instead)."""
    return _parse(
        await conn.fetchrow(
            f"{SELECT} WHERE takedown_id = $1 AND lease_owner = $2 FOR UPDATE", takedown_id, owner
        )
    )


async def record_check(
    conn: Connection,
    takedown_id: UUID,
    checked_at: datetime,
    outcome: RecheckOutcome,
    http_status: int | None,
    removal_kind: RemovalKind | None,
    detail: str | None,
) -> None:
    await conn.execute(
        "INSERT INTO takedown_checks (takedown_id, checked_at, outcome, http_status, removal_kind, detail)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        takedown_id,
        checked_at,
        outcome.value,
        http_status,
        removal_kind.value if removal_kind else None,
        detail,
    )


async def mark_overdue(
    conn: Connection, takedown_ids: Sequence[UUID] | None, now: datetime, grace_s: float
) -> list[Takedown]:
    """Takedowns whose deadline passed without removal, marked once (a second replica finds
    them marked). Given ids: those a re-check at or after the deadline still saw; without: any
    whose deadline is `grace_s` behind (their re-checks fail, or none ran in time)."""
    arguments: list[object]
    if takedown_ids is not None:
        condition, arguments = "takedown_id = ANY($2::uuid[]) AND deadline_at <= $1", [list(takedown_ids)]
    else:
        condition, arguments = "deadline_at + make_interval(secs => $2) <= $1", [grace_s]
    rows = await conn.fetch(
        "UPDATE takedowns SET status = 'overdue', overdue_at = $1"
        f" WHERE status IN ('requested', 'acknowledged') AND {condition} RETURNING {COLUMNS}",
        now,
        *arguments,
    )
    return [Takedown.model_validate(dict(row)) for row in rows]


async def statistics(
    pool: asyncpg.Pool,
    agency_id: str,
    since: datetime | None,
    until: datetime | None,
    platform: Platform | None,
) -> TakedownStatistics:
    rows = await pool.fetch(
        "SELECT platform, count(*) AS requested,"
        " count(*) FILTER (WHERE status = 'removed') AS removed,"
        " count(*) FILTER (WHERE status = 'refused') AS refused,"
        " count(*) FILTER (WHERE overdue_at IS NOT NULL) AS overdue,"
        f" count(*) FILTER (WHERE status IN {OPEN}) AS open,"
        " count(*) FILTER (WHERE removed_at IS NOT NULL AND removed_at <= deadline_at) AS within,"
        " count(removed_at) AS timed,"
        " percentile_cont(0.5) WITHIN GROUP (ORDER BY taken) AS median_s,"
        " percentile_cont(0.9) WITHIN GROUP (ORDER BY taken) AS p90_s,"
        " avg(taken)::float8 AS mean_s,"
        " GROUPING(platform) AS total"
        " FROM (SELECT *, extract(epoch FROM removed_at - requested_at)::float8 AS taken FROM takedowns) t"
        " WHERE agency_id = $1"
        " AND ($2::timestamptz IS NULL OR requested_at >= $2)"
        " AND ($3::timestamptz IS NULL OR requested_at < $3)"
        " AND ($4::text IS NULL OR platform = $4)"
        " GROUP BY ROLLUP (platform) ORDER BY GROUPING(platform), count(*) DESC, platform",
        agency_id,
        since,
        until,
        platform.value if platform else None,
    )
    figures = {
        "requested": 0,
        "removed": 0,
        "refused": 0,
        "overdue": 0,
        "open": 0,
        "removed_within_deadline": 0,
    }
    overall = Durations(count=0, median_s=None, p90_s=None, mean_s=None)
    per_platform: list[PlatformTakedowns] = []
    for row in rows:
        counts = {
            "requested": row["requested"],
            "removed": row["removed"],
            "refused": row["refused"],
            "overdue": row["overdue"],
            "open": row["open"],
            "removed_within_deadline": row["within"],
        }
        durations = Durations(
            count=row["timed"],
            median_s=_seconds(row["median_s"]),
            p90_s=_seconds(row["p90_s"]),
            mean_s=_seconds(row["mean_s"]),
        )
        if row["total"]:
            figures, overall = counts, durations
        else:
            per_platform.append(
                PlatformTakedowns(platform=row["platform"], time_to_removal=durations, **counts)
            )
    return TakedownStatistics(
        since=since, until=until, time_to_removal=overall, by_platform=per_platform, **figures
    )


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(float(value), 3)
