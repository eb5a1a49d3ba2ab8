"""The registries in PostgreSQL (schema `triage`): bulk import, exact lookup, look-alikes.

Imports parse and check the whole file first and load nothing if a row is bad; a good file goes
in with one COPY into a temporary table and one upsert, in one transaction, so a re-import of the
same file changes nothing and a concurrent reader sees the old or the new registry, never half.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import asyncpg

from pantau_shared.postgres import Connection

from .registries import (
    MIN_CONTAINED,
    AccountRow,
    HandleError,
    OfficialRow,
    Resemblance,
    RowError,
    compare_skeletons,
    lookalike_reason,
    normalise_handle,
    normalise_platform,
    parse_accounts,
    parse_officials,
    skeleton,
)

_SHOWN_ERRORS = 50
# Distinct skeletons the trigram index may propose per look-up; the exact scoring in Python
# then keeps the real look-alikes among them.
_TRIGRAM_CANDIDATES = 40


class RegistryImportError(ValueError):
    """The file had bad rows; nothing was imported. `errors` lists each with its line."""

    def __init__(self, errors: list[RowError]) -> None:
        self.errors = errors
        shown = "\n".join(str(e) for e in errors[:_SHOWN_ERRORS])
        more = f"\n... dan {len(errors) - _SHOWN_ERRORS} baris lain" if len(errors) > _SHOWN_ERRORS else ""
        super().__init__(f"{len(errors)} baris bermasalah, tidak ada yang diimpor:\n{shown}{more}")


@dataclass(frozen=True)
class ImportResult:
    rows: int
    inserted: int
    updated: int
    unchanged: int
    removed: int = 0


@dataclass(frozen=True)
class RegisteredAccount:
    platform: str
    handle: str
    participant: str
    party: str
    election_id: str
    region_code: str
    url: str
    kind: Literal["registered_account"] = "registered_account"


@dataclass(frozen=True)
class WatchedOfficial:
    platform: str
    handle: str
    name: str
    role: str
    institution: str
    region_code: str
    url: str
    kind: Literal["watched_official"] = "watched_official"


@dataclass(frozen=True)
class Lookalike:
    account: RegisteredAccount
    score: float
    reason: str


_ACCOUNT_COLUMNS = (
    "platform",
    "handle",
    "skeleton",
    "participant",
    "party",
    "election_id",
    "region_code",
    "url",
)
_OFFICIAL_COLUMNS = ("platform", "handle", "name", "role", "institution", "region_code", "url")


async def import_accounts(
    pool: asyncpg.Pool,
    source: Path | str | Iterable[AccountRow],
    *,
    elections: Collection[str] | None = None,
    replace: bool = False,
) -> ImportResult:
    """Upsert participant accounts from a CSV path (or rows already parsed), keyed on
    (platform, handle).

    `elections` limits the election ids rows may name (e.g. `Calendar.load().election_ids`).
    With `replace`, accounts of the same (election, region) pairs that the file no longer lists
    are removed, so the file becomes the registry for its scope.
    Raises RegistryImportError listing every bad row; nothing is imported then.
    """
    if isinstance(source, Path | str):
        parsed = parse_accounts(Path(source), elections)
        if parsed.errors:
            raise RegistryImportError(parsed.errors)
        rows: Iterable[AccountRow] = parsed.rows
    else:
        rows = source
    unique = {(r.platform, r.handle): r for r in rows}
    records = [
        (
            r.platform,
            r.handle,
            skeleton(r.handle),
            r.participant,
            r.party,
            r.election_id,
            r.region_code,
            r.url,
        )
        for r in unique.values()
    ]
    return await _upsert(
        pool,
        "registered_accounts",
        _ACCOUNT_COLUMNS,
        records,
        scope=("election_id", "region_code") if replace else None,
    )


async def import_officials(
    pool: asyncpg.Pool, source: Path | str | Iterable[OfficialRow], *, replace: bool = False
) -> ImportResult:
    """Upsert watched officials from a CSV path (or parsed rows), keyed on (platform, handle).

    With `replace`, officials of the regions the file lists that it no longer lists are removed.
    Raises RegistryImportError listing every bad row; nothing is imported then.
    """
    if isinstance(source, Path | str):
        parsed = parse_officials(Path(source))
        if parsed.errors:
            raise RegistryImportError(parsed.errors)
        rows: Iterable[OfficialRow] = parsed.rows
    else:
        rows = source
    unique = {(r.platform, r.handle): r for r in rows}
    records = [
        (r.platform, r.handle, r.name, r.role, r.institution, r.region_code, r.url) for r in unique.values()
    ]
    return await _upsert(
        pool, "watched_officials", _OFFICIAL_COLUMNS, records, scope=("region_code",) if replace else None
    )


async def _upsert(
    pool: asyncpg.Pool,
    table: str,
    columns: tuple[str, ...],
    records: Sequence[tuple[str, ...]],
    *,
    scope: tuple[str, ...] | None,
) -> ImportResult:
    names = ", ".join(columns)
    values = [c for c in columns if c not in ("platform", "handle")]
    changed = ", ".join(f"{c} = EXCLUDED.{c}" for c in values)
    incoming = f"incoming_{table}"
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            f"CREATE TEMP TABLE {incoming} ({', '.join(c + ' text' for c in columns)}) ON COMMIT DROP"
        )
        await conn.copy_records_to_table(incoming, records=records, columns=columns)
        # Rows in key order, so two imports racing on the same keys lock them in the same order.
        counts = await conn.fetchrow(f"""
            WITH up AS (
                INSERT INTO {table} AS t ({names})
                SELECT {names} FROM {incoming} ORDER BY platform, handle
                ON CONFLICT (platform, handle) DO UPDATE SET {changed}, imported_at = now()
                WHERE ({", ".join("t." + c for c in values)})
                      IS DISTINCT FROM ({", ".join("EXCLUDED." + c for c in values)})
                RETURNING (xmax = 0) AS inserted)
            SELECT count(*) FILTER (WHERE inserted) AS inserted,
                   count(*) FILTER (WHERE NOT inserted) AS updated FROM up""")
        removed = 0
        if scope:
            keys = ", ".join(scope)
            status = await conn.execute(f"""
                DELETE FROM {table} AS t
                WHERE ({", ".join("t." + k for k in scope)}) IN (SELECT DISTINCT {keys} FROM {incoming})
                  AND NOT EXISTS (SELECT 1 FROM {incoming} i
                                  WHERE i.platform = t.platform AND i.handle = t.handle)""")
            removed = int(status.split()[-1])
        if table == "registered_accounts":
            # Bulk rows wait in the GIN index's pending list, which every look-up would then
            # scan linearly (50 ms instead of 1 ms at 13,100 rows) until autovacuum gets to it.
            await conn.execute("SELECT gin_clean_pending_list('registered_accounts_skeleton_trgm')")
        # Fresh statistics, or the planner keeps scanning a table it last saw empty.
        await conn.execute(f"ANALYZE {table}")
    assert counts is not None  # an aggregate always has a row
    inserted, updated = counts["inserted"], counts["updated"]
    return ImportResult(len(records), inserted, updated, len(records) - inserted - updated, removed)


Handle = tuple[str, str]  # (platform, handle) as given


def _normalised(wanted: Handle) -> Handle | None:
    try:
        platform = normalise_platform(wanted[0])
        return platform, normalise_handle(platform, wanted[1])
    except HandleError:
        return None


async def lookup(conn: Connection, platform: str, handle: str) -> RegisteredAccount | WatchedOfficial | None:
    """The registered participant account, else the watched official, behind a handle or
    profile URL on a platform; None when neither registry has it (or it is no valid handle)."""
    return (await lookup_many(conn, [(platform, handle)]))[0]


_OFFICIAL = ("platform", "handle", "name", "role", "institution", "region_code", "url")
_ACCOUNT = ("platform", "handle", "participant", "party", "election_id", "region_code", "url")
_WANTED = "(platform, handle) IN (SELECT * FROM unnest($1::text[], $2::text[]))"
# Both registries in one statement; officials first, so a participant's account read after
# one with the same handle wins.
LOOKUP = (
    "SELECT 0 AS registry, platform, handle, name, role, institution, region_code, url,"
    " NULL::text AS participant, NULL::text AS party, NULL::text AS election_id"
    f" FROM watched_officials WHERE {_WANTED}"
    " UNION ALL SELECT 1, platform, handle, NULL, NULL, NULL, region_code, url,"
    " participant, party, election_id"
    f" FROM registered_accounts WHERE {_WANTED} ORDER BY registry"
)


async def lookup_many(
    conn: Connection, wanted: Sequence[Handle]
) -> list[RegisteredAccount | WatchedOfficial | None]:
    """`lookup` for many handles in one statement over both registries, whatever their number."""
    keys = [_normalised(w) for w in wanted]
    valid = sorted({k for k in keys if k is not None})
    if not valid:
        return [None] * len(keys)
    found: dict[Handle, RegisteredAccount | WatchedOfficial] = {}
    for row in await conn.fetch(LOOKUP, [p for p, _ in valid], [h for _, h in valid]):
        columns = _ACCOUNT if row["registry"] else _OFFICIAL
        entry = {column: row[column] for column in columns}
        found[(row["platform"], row["handle"])] = (
            RegisteredAccount(**entry) if row["registry"] else WatchedOfficial(**entry)
        )
    return [found.get(k) if k is not None else None for k in keys]


async def lookalikes(conn: Connection, platform: str, handle: str, *, limit: int = 5) -> list[Lookalike]:
    """Registered accounts that the unregistered `handle` on `platform` imitates, best first,
    at most one per participant; empty when the handle is itself registered there."""
    return (await lookalikes_many(conn, [(platform, handle)], limit=limit))[0]


async def lookalikes_many(
    conn: Connection, wanted: Sequence[Handle], *, limit: int = 5
) -> list[list[Lookalike]]:
    """`lookalikes` for many handles in two statements, whatever their number."""
    keys = [_normalised(w) for w in wanted]
    probed = sorted({k for k in keys if k is not None and len(skeleton(k[1])) >= 4})
    if not probed:
        return [[] for _ in keys]
    skeletons = [skeleton(h) for _, h in probed]
    # Exact skeletons of the handle and of its prefixes ("budisantosofans" starts with
    # "budisantoso") through the btree; near misses through the trigram index.
    probes = [
        (i, key[:end]) for i, key in enumerate(skeletons) for end in range(MIN_CONTAINED, len(key) + 1)
    ] + [(i, key) for i, key in enumerate(skeletons) if len(key) < MIN_CONTAINED]
    # Two steps: candidate skeletons (few, short) first, scored here; then only the accounts
    # behind the ones that pass. Names repeat (20 accounts a person, namesakes), so fetching
    # every account of every trigram neighbour costs more than the second round trip.
    candidates = await conn.fetch(
        """
        SELECT k.i,
               EXISTS (SELECT 1 FROM registered_accounts WHERE platform = k.platform AND handle = k.handle)
                   AS registered,
               ARRAY(SELECT skeleton FROM registered_accounts
                     WHERE skeleton = ANY(ARRAY(
                         SELECT p.probe FROM unnest($5::int[], $6::text[]) AS p(i, probe) WHERE p.i = k.i))
                     UNION
                     SELECT skeleton FROM (
                         SELECT skeleton FROM registered_accounts WHERE skeleton % k.key
                         GROUP BY skeleton ORDER BY similarity(skeleton, k.key) DESC LIMIT $7) near
               ) AS skeletons
        FROM unnest($1::int[], $2::text[], $3::text[], $4::text[]) AS k(i, key, platform, handle)
        """,
        list(range(len(probed))),
        skeletons,
        [p for p, _ in probed],
        [h for _, h in probed],
        [i for i, _ in probes],
        [probe for _, probe in probes],
        _TRIGRAM_CANDIDATES,
    )
    scored: dict[int, dict[str, Resemblance | None]] = {
        row["i"]: {s: compare_skeletons(skeletons[row["i"]], s) for s in row["skeletons"]}
        for row in candidates
        if not row["registered"]
    }
    passing = sorted({s for found in scored.values() for s, r in found.items() if r is not None})
    rows = (
        await conn.fetch(
            "SELECT skeleton, platform, handle, participant, party, election_id, region_code, url"
            " FROM registered_accounts WHERE skeleton = ANY($1::text[])",
            passing,
        )
        if passing
        else []
    )
    found = {
        probed[i]: _best(probed[i], scores, [r for r in rows if scores.get(r["skeleton"]) is not None], limit)
        for i, scores in scored.items()
    }
    return [found.get(k, []) if k is not None else [] for k in keys]


def _best(
    wanted: Handle, scored: dict[str, Resemblance | None], rows: list[asyncpg.Record], limit: int
) -> list[Lookalike]:
    """The accounts behind the passing skeletons, at most one per participant, best first."""
    platform, handle = wanted
    best: dict[tuple[str, str, str], Lookalike] = {}
    for row in rows:
        account = RegisteredAccount(**{k: v for k, v in row.items() if k != "skeleton"})
        resembles = Resemblance(0.9, "same_handle") if account.handle == handle else scored[row["skeleton"]]
        if resembles is None:
            continue
        same_platform = account.platform == platform
        # On the same platform an imitation is more likely to deceive the same audience.
        score = round(resembles.score + (0.02 if same_platform else 0.0), 3)
        person = (account.election_id, account.region_code, account.participant.casefold())
        kept = best.get(person)
        # Ties go to the plainest handle, the one people would recognise.
        if kept is None or (score, -len(account.handle)) > (kept.score, -len(kept.account.handle)):
            reason = lookalike_reason(
                resembles,
                handle=account.handle,
                participant=account.participant,
                party=account.party,
                platform=account.platform,
                same_platform=same_platform,
            )
            best[person] = Lookalike(account, score, reason)
    return sorted(best.values(), key=lambda m: -m.score)[:limit]
