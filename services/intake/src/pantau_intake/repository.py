import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from uuid import UUID

import asyncpg

from pantau_shared.contract import Reporter, ReportReceived, ReportSubmitted, StoredReport
from pantau_shared.contract.rpc import ReporterContact
from pantau_shared.postgres import Connection

if TYPE_CHECKING:
    from .evidence.jobs import NewJob

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
    "content_digest",
    "location",
    "contacts",
    "sender_auth",
    "parts",
    "fragments_only",
)
# Stored as jsonb: encoded on the way in, decoded on the way out.
JSON_COLUMNS = ("attachments", "location", "contacts", "sender_auth")


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
    conn: Connection, report: ReportReceived, digest: str, event: tuple[str, str, bytes]
) -> bool:
    """Store the report with its outbox event; False when its id was stored before."""
    values = report.model_dump(include=set(REPORT_COLUMNS))
    encoded = report.model_dump(mode="json")
    for column in JSON_COLUMNS:
        values[column] = json.dumps(encoded[column])
    values["content_digest"] = digest
    inserted = await conn.fetchval(INSERT_WITH_EVENT, *(values[c] for c in REPORT_COLUMNS), *event)
    return bool(inserted)


@dataclass(frozen=True, slots=True)
class Seen:
    """What intake already did with a report id: stored it (with which content) or refused it."""

    stored: bool
    digest: str | None = None
    refused: str | None = None


async def seen(conn: Connection, report_id: UUID, digest: str) -> Seen:
    """Stored as a report, or as a part of a conversation (which becomes a report)."""
    row = await conn.fetchrow(
        "SELECT coalesce((SELECT content_digest FROM reports WHERE report_id = $1),"
        " (SELECT content_digest FROM conversation_parts WHERE part_id = $1)) AS digest,"
        " EXISTS (SELECT 1 FROM reports WHERE report_id = $1)"
        " OR EXISTS (SELECT 1 FROM conversation_parts WHERE part_id = $1) AS stored,"
        " (SELECT reason FROM refused_submissions WHERE report_id = $1 AND content_digest = $2) AS refused",
        report_id,
        digest,
    )
    assert row is not None  # a SELECT without FROM always has a row
    return Seen(stored=row["stored"], digest=row["digest"], refused=row["refused"])


async def record_refusal(conn: Connection, report_id: UUID, digest: str, reason: str) -> None:
    await conn.execute(
        "INSERT INTO refused_submissions (report_id, content_digest, reason) VALUES ($1, $2, $3)"
        " ON CONFLICT DO NOTHING",
        report_id,
        digest,
        reason,
    )


async def add_revision(
    conn: Connection,
    report_id: UUID,
    external_id: str,
    revises: str,
    revised_at: datetime,
    text: str | None,
    change: str = "edited",
) -> bool:
    return bool(
        await conn.fetchval(
            "INSERT INTO report_revisions (report_id, external_id, revises, revised_at, text, change)"
            " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING true",
            report_id,
            external_id,
            revises,
            revised_at,
            text,
            change,
        )
    )


async def mark_withdrawn(conn: Connection, report_id: UUID, at: datetime) -> None:
    await conn.execute(
        "UPDATE reports SET withdrawn_at = least(coalesce(withdrawn_at, $2), $2) WHERE report_id = $1",
        report_id,
        at,
    )


async def revisions(pool: asyncpg.Pool, report_id: UUID) -> list[asyncpg.Record]:
    return await pool.fetch(
        "SELECT external_id, revised_at, text FROM report_revisions WHERE report_id = $1 ORDER BY revised_at",
        report_id,
    )


async def reporter_for(conn: Connection, contact_keys: list[str], new_id: str, reporter: Reporter) -> str:
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


async def get_report(pool: asyncpg.Pool, agency_id: str, report_id: UUID) -> StoredReport | None:
    row = await pool.fetchrow(
        f"SELECT {', '.join(REPORT_COLUMNS)}, withdrawn_at FROM reports"
        " WHERE report_id = $1 AND agency_id = $2",
        report_id,
        agency_id,
    )
    if row is None:
        return None
    decoded = {c: json.loads(row[c]) if row[c] is not None else None for c in JSON_COLUMNS}
    return StoredReport.model_validate(dict(row) | decoded)


async def reporter_contact(pool: asyncpg.Pool, agency_id: str, reporter_id: str) -> ReporterContact | None:
    """A reporter's contacts, for an agency they reported to (never to any other), and only if
    they asked to hear back; None for a reporter unknown to that agency."""
    rows = await pool.fetch(
        "SELECT contact_key, name, wants_updates FROM reporter_contacts WHERE reporter_id = $1"
        " AND EXISTS (SELECT 1 FROM reports WHERE reporter_id = $1 AND agency_id = $2)",
        reporter_id,
        agency_id,
    )
    if not rows:
        return None
    if not any(row["wants_updates"] for row in rows):
        return ReporterContact(wants_updates=False)
    contacts = dict(row["contact_key"].split(":", 1) for row in rows)
    return ReporterContact(
        wants_updates=True,
        email=contacts.get("mailto"),
        phone=contacts.get("tel"),
        name=next((row["name"] for row in rows if row["name"]), None),
    )


@dataclass(frozen=True, slots=True)
class Holder:
    """The report a channel message went into; `stored` is False while it is an open conversation."""

    report_id: UUID
    stored: bool


async def report_with_message(conn: Connection, agency_id: str, external_id: str) -> Holder | None:
    row = await conn.fetchrow(
        "SELECT p.report_id, c.closed_at IS NOT NULL AS stored FROM conversation_parts p"
        " JOIN conversations c USING (report_id) WHERE c.agency_id = $1 AND p.external_id = $2"
        " UNION ALL (SELECT report_id, true FROM reports WHERE agency_id = $1 AND external_id = $2"
        " ORDER BY received_at) LIMIT 1",
        agency_id,
        external_id,
    )
    return Holder(row["report_id"], row["stored"]) if row else None


async def known_ids(conn: Connection, report_ids: list[UUID]) -> set[UUID]:
    """Ids already stored or refused: those reports take the careful path, one at a time."""
    rows = await conn.fetch(
        "SELECT report_id FROM reports WHERE report_id = ANY($1::uuid[])"
        " UNION SELECT report_id FROM refused_submissions WHERE report_id = ANY($1::uuid[])"
        " UNION SELECT part_id FROM conversation_parts WHERE part_id = ANY($1::uuid[])",
        report_ids,
    )
    return {row["report_id"] for row in rows}


async def reporters_for_many(conn: Connection, wanted: list[tuple[list[str], str, Reporter]]) -> list[str]:
    """`reporter_for` for many reporters in two statements; in order of `wanted`."""
    keys = [key for contact_keys, _, _ in wanted for key in contact_keys]
    rows = await conn.fetch(
        "SELECT contact_key, reporter_id FROM reporter_contacts WHERE contact_key = ANY($1::text[])", keys
    )
    known = {row["contact_key"]: row["reporter_id"] for row in rows}
    chosen: list[str] = []
    upserts: dict[str, tuple[str, str, str | None, bool]] = {}
    for contact_keys, new_id, reporter in wanted:
        reporter_id = next((known[key] for key in contact_keys if key in known), new_id)
        for key in contact_keys:
            known.setdefault(key, reporter_id)
            wants = reporter.wants_updates or (key in upserts and upserts[key][3])
            upserts[key] = (key, known[key], reporter.name, wants)
        chosen.append(reporter_id)
    columns = list(zip(*upserts.values(), strict=True)) if upserts else [(), (), (), ()]
    await conn.execute(
        "INSERT INTO reporter_contacts (contact_key, reporter_id, name, wants_updates)"
        " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bool[])"
        " ON CONFLICT (contact_key) DO UPDATE SET last_seen = now(),"
        " wants_updates = reporter_contacts.wants_updates OR EXCLUDED.wants_updates",
        *(list(column) for column in columns),
    )
    return chosen


# Many reports, their events and their links' evidence jobs in one statement: the rows travel as
# one JSON document; events and jobs are written only for the reports this statement stored, so
# a report stored always has its jobs and a redelivered one adds nothing.
INSERT_MANY_WITH_EVENTS = (
    f"WITH stored AS (INSERT INTO reports ({', '.join(REPORT_COLUMNS)})"
    f" SELECT {', '.join(REPORT_COLUMNS)} FROM jsonb_populate_recordset(NULL::reports, $1::jsonb)"
    " ON CONFLICT (report_id) DO NOTHING RETURNING report_id),"
    " events AS (INSERT INTO outbox (subject, headers, body)"
    " SELECT e.subject, e.headers, e.body FROM unnest($2::uuid[], $3::text[], $4::jsonb[], $5::bytea[])"
    " WITH ORDINALITY AS e(report_id, subject, headers, body, n) JOIN stored USING (report_id)"
    " ORDER BY e.n),"
    " jobs AS (INSERT INTO evidence_jobs (job_id, agency_id, report_id, url)"
    " SELECT j.job_id, j.agency_id, j.report_id, j.url"
    " FROM unnest($6::uuid[], $7::text[], $8::uuid[], $9::text[]) AS j(job_id, agency_id, report_id, url)"
    " JOIN stored USING (report_id) ORDER BY j.job_id ON CONFLICT (job_id) DO NOTHING)"
    " SELECT report_id FROM stored"
)


async def insert_reports(
    conn: Connection,
    reports: list[tuple[ReportReceived, str, tuple[str, str, bytes]]],
    jobs: "Sequence[NewJob]" = (),
) -> set[UUID]:
    """Store reports with their outbox events and the evidence jobs of their links; the ids
    stored (not those stored before)."""
    documents = []
    for report, digest, _ in reports:
        values = report.model_dump(mode="json", include=set(REPORT_COLUMNS))
        values["content_digest"] = digest
        documents.append(values)
    rows = await conn.fetch(
        INSERT_MANY_WITH_EVENTS,
        json.dumps(documents),
        [report.report_id for report, _, _ in reports],
        *(list(column) for column in zip(*(event for _, _, event in reports), strict=True)),
        [job.job_id for job in jobs],
        [job.agency_id for job in jobs],
        [job.report_id for job in jobs],
        [job.url for job in jobs],
    )
    return {row["report_id"] for row in rows}


# Conversations: a WhatsApp sender's messages gathered into one report.


async def add_part(
    conn: Connection, report: ReportSubmitted, digest: str, reporter_id: str, now: datetime
) -> tuple[UUID, bool]:
    """Add a message to its sender's open conversation, opening one if there is none.
    Returns the conversation's report id and whether the message was new."""
    conversation: UUID | None = await conn.fetchval(
        "SELECT report_id FROM conversations WHERE agency_id = $1 AND reporter_id = $2"
        " AND closed_at IS NULL FOR UPDATE",
        report.agency_id,
        reporter_id,
    )
    if conversation is None:
        # Two first messages racing: the unique index refuses one, which is retried and joins.
        conversation = report.report_id
        await conn.execute(
            "INSERT INTO conversations (report_id, agency_id, reporter_id, opened_at, last_at)"
            " VALUES ($1, $2, $3, $4, $4)",
            conversation,
            report.agency_id,
            reporter_id,
            now,
        )
    added = await conn.fetchval(
        "INSERT INTO conversation_parts (part_id, report_id, external_id, kind, content_digest,"
        " received_at, submission) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)"
        " ON CONFLICT DO NOTHING RETURNING true",
        report.report_id,
        conversation,
        report.external_id,
        report.message_kind,
        digest,
        now,
        # Without the reporter: contacts live only in reporter_contacts (UU 27/2022).
        report.model_copy(update={"reporter": None}).model_dump_json(),
    )
    await conn.execute("UPDATE conversations SET last_at = $2 WHERE report_id = $1", conversation, now)
    return conversation, bool(added)


@dataclass(frozen=True, slots=True)
class DueConversation:
    report_id: UUID
    reporter_id: str


async def due_conversations(
    pool: asyncpg.Pool, quiet_s: float, longest_s: float, limit: int = 100
) -> list[DueConversation]:
    rows = await pool.fetch(
        "SELECT report_id, reporter_id FROM conversations WHERE closed_at IS NULL"
        " AND (last_at < now() - make_interval(secs => $1) OR opened_at < now() - make_interval(secs => $2))"
        " ORDER BY last_at LIMIT $3",
        quiet_s,
        longest_s,
        limit,
    )
    return [DueConversation(r["report_id"], r["reporter_id"]) for r in rows]


async def claim_conversation(conn: Connection, report_id: UUID) -> list[ReportSubmitted] | None:
    """Lock an open conversation and read its messages in order; None when another instance
    has it or it was closed meanwhile. Edits received meanwhile replace the text they revise."""
    locked = await conn.fetchval(
        "SELECT true FROM conversations WHERE report_id = $1 AND closed_at IS NULL FOR UPDATE SKIP LOCKED",
        report_id,
    )
    if not locked:
        return None
    return await conversation_parts(conn, report_id)


async def conversation_parts(conn: Connection, report_id: UUID) -> list[ReportSubmitted]:
    """A conversation's messages in order, with the edits received meanwhile; unlocked (what
    `claim_conversation` reads under its lock)."""
    rows = await conn.fetch(
        "SELECT submission, (SELECT text FROM report_revisions r WHERE r.report_id = p.report_id"
        " AND r.revises = p.external_id AND r.change = 'edited' ORDER BY revised_at DESC LIMIT 1) AS revised"
        " FROM conversation_parts p WHERE report_id = $1 ORDER BY received_at, part_id",
        report_id,
    )
    parts = []
    for row in rows:
        part = ReportSubmitted.model_validate_json(row["submission"])
        if row["revised"] is not None:
            part = part.model_copy(update={"text": row["revised"]})
        parts.append(part)
    return parts


async def close_conversation(conn: Connection, report_id: UUID) -> None:
    await conn.execute("UPDATE conversations SET closed_at = now() WHERE report_id = $1", report_id)
    # A message deleted by its sender while the conversation was open: the report is withdrawn.
    await conn.execute(
        "UPDATE reports SET withdrawn_at = (SELECT min(revised_at) FROM report_revisions"
        " WHERE report_id = $1 AND change = 'withdrawn') WHERE report_id = $1",
        report_id,
    )
