"""The custody log in PostgreSQL: one hash chain (`pantau_shared.custody`) per report, holding
every preservation, timestamp, access, export and deletion of its items, and one per case,
holding each export of the case's bundle and the heads of its reports' chains at that moment.

Appends to one chain are serialised by a transaction-scoped advisory lock on it, so two workers
(or a worker and a gateway read) never link to the same predecessor; the primary key (chain,
sequence) refuses such a fork even if the lock were bypassed. The table refuses updates and
deletes (a trigger): deleting evidence appends `deleted`, it never removes history.
"""

from datetime import datetime
from typing import Literal
from uuid import UUID

from pantau_shared.custody import CustodyAction, CustodyEntry, link
from pantau_shared.postgres import Connection

ChainKind = Literal["report", "case"]
_COLUMNS = "seq AS sequence, at, actor, action, subject, detail, previous_hash, hash"


async def append(
    conn: Connection,
    agency_id: str,
    chain: tuple[ChainKind, UUID],
    entries: list[tuple[CustodyAction, str, str]],
    *,
    at: datetime,
    actor: str,
    once: bool = False,
) -> list[CustodyEntry]:
    """Append (action, subject, detail) entries to a chain; needs an open transaction.

    `once`: an entry the chain already holds (same action, subject and detail, which then names
    the request) is not appended again, so a request retried with its command id (the RPC
    client asks again after a timeout) is logged once."""
    if not entries:
        return []
    kind, chain_id = chain
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtext('evidence-custody'), hashtext($1::text))", str(chain_id)
    )
    if once:
        held = await conn.fetch(
            "SELECT action, subject, detail FROM evidence_custody WHERE chain_id = $1"
            " AND (action, subject, detail) IN (SELECT * FROM unnest($2::text[], $3::text[], $4::text[]))",
            chain_id,
            [str(a) for a, _, _ in entries],
            [s for _, s, _ in entries],
            [d[:2000] for _, _, d in entries],
        )
        seen = {(r["action"], r["subject"], r["detail"]) for r in held}
        entries = [e for e in entries if (str(e[0]), e[1], e[2][:2000]) not in seen]
        if not entries:
            return []
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM evidence_custody WHERE chain_id = $1 ORDER BY seq DESC LIMIT 1", chain_id
    )
    previous = CustodyEntry.model_validate(dict(row)) if row is not None else None
    linked = []
    for action, subject, detail in entries:
        previous = link(previous, at=at, actor=actor, action=action, subject=subject, detail=detail[:2000])
        linked.append(previous)
    await conn.executemany(
        "INSERT INTO evidence_custody (chain_id, chain_kind, agency_id, seq, at, actor, action, subject,"
        " detail, previous_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        [(chain_id, kind, agency_id, *_columns(e)) for e in linked],
    )
    return linked


async def entries(conn: Connection, agency_id: str, chain_id: UUID) -> list[CustodyEntry]:
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM evidence_custody WHERE agency_id = $1 AND chain_id = $2 ORDER BY seq",
        agency_id,
        chain_id,
    )
    return [CustodyEntry.model_validate(dict(row)) for row in rows]


def _columns(e: CustodyEntry) -> tuple[object, ...]:
    return (e.sequence, e.at, e.actor, e.action.value, e.subject, e.detail, e.previous_hash, e.hash)
