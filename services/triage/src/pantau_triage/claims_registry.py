"""The fact-checked claims a report is matched against, kept in memory per instance.

Claims change rarely (a fact-checker's batch a day), so each instance rebuilds its matcher when
the table has changed, checked at most every `refresh_s` seconds; the instance that imports
claims rebuilds at once. A claim belongs to the agency that added it: a report is matched
against its own agency's claims and those of the agencies it subscribes to.
"""

import time
from collections.abc import Sequence

import asyncpg

from pantau_shared.bus import Forbidden, Invalid
from pantau_shared.contract import ClaimRef
from pantau_shared.contract.rpc import ClaimIn

from .matching import Claim, ClaimMatcher

# Claims considered per report before visibility is applied: agencies import the same
# fact-check (one Turn Back Hoax item in every regency), and the best match overall may be
# another agency's claim the reporter's agency does not see, while its own copy ties with it.
CANDIDATES = 20


class ClaimRegistry:
    def __init__(self, refresh_s: float = 30.0) -> None:
        self._matcher: ClaimMatcher | None = None
        self._version: tuple[object, ...] | None = None
        self._checked = 0.0
        self._refresh_s = refresh_s
        self._claims: dict[str, Claim] = {}
        self._publisher: dict[str, str] = {}

    async def refresh(self, pool: asyncpg.Pool, *, force: bool = False) -> None:
        if not force and time.monotonic() - self._checked < self._refresh_s:
            return
        self._checked = time.monotonic()
        version = tuple(await pool.fetchrow("SELECT count(*), max(added_at) FROM claims") or ())
        if version == self._version and not force:
            return
        rows = await pool.fetch(
            "SELECT claim_id, text, verdict, source_url, checked_on, added_by FROM claims"
        )
        claims = [
            Claim(r["claim_id"], r["text"], r["verdict"], r["source_url"], r["checked_on"]) for r in rows
        ]
        self._claims = {c.claim_id: c for c in claims}
        self._publisher = {r["claim_id"]: r["added_by"] for r in rows}
        self._matcher = ClaimMatcher.build(claims) if claims else None
        self._version = version

    async def visible(self, pool: asyncpg.Pool, agency_id: str, claims: Sequence[ClaimRef]) -> list[ClaimRef]:
        """The best matched claim an agency sees: its own, or its subscriptions'.

        Subscriptions are read when a report matched something (rarely), not cached: another
        instance may have answered the subscribe command a moment ago."""
        if not claims:
            return []
        rows = await pool.fetch("SELECT publisher FROM claim_subscriptions WHERE agency_id = $1", agency_id)
        allowed = {r["publisher"] for r in rows} | {agency_id}
        # The best the agency may see, as one claim per report was before visibility.
        return [c for c in claims if self._publisher.get(c.claim_id) in allowed][:1]

    def match(self, text: str) -> list[ClaimRef]:
        return self.match_many([text])[0]

    def match_many(self, texts: Sequence[str]) -> list[list[ClaimRef]]:
        if self._matcher is None:
            return [[] for _ in texts]
        return [
            [
                ClaimRef(
                    claim_id=m.claim_id,
                    verdict=self._claims[m.claim_id].verdict,
                    source_url=self._claims[m.claim_id].source_url,
                    score=round(min(1.0, m.score), 3),
                )
                for m in matches
                if m.accepted
            ]
            for matches in self._matcher.match(texts, top_k=CANDIDATES)
        ]


# One statement, so the ownership check and the write cannot be raced: a row of another agency
# is not updated, which the caller sees in the count and rolls back.
UPSERT_OWN = (
    "INSERT INTO claims (claim_id, text, verdict, source_url, checked_on, added_by)"
    " SELECT *, $6::text FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::date[])"
    " ON CONFLICT (claim_id) DO UPDATE SET text = EXCLUDED.text, verdict = EXCLUDED.verdict,"
    " source_url = EXCLUDED.source_url, checked_on = EXCLUDED.checked_on, added_at = now()"
    " WHERE claims.added_by = EXCLUDED.added_by RETURNING claim_id"
)


async def import_claims(pool: asyncpg.Pool, claims: Sequence[ClaimIn], added_by: str) -> int:
    """Add or update `added_by`'s claims; a claim id another agency added refuses the whole batch."""
    latest = list({c.claim_id: c for c in claims}.values())
    async with pool.acquire() as conn, conn.transaction():
        written = await conn.fetch(
            UPSERT_OWN,
            [c.claim_id for c in latest],
            [c.text for c in latest],
            [c.verdict for c in latest],
            [c.source_url for c in latest],
            [c.checked_on for c in latest],
            added_by,
        )
        if len(written) < len(latest):
            foreign = sorted({c.claim_id for c in latest} - {r["claim_id"] for r in written})
            raise Forbidden(f"klaim milik agensi lain tidak dapat diubah: {', '.join(foreign)}")
    return len(latest)


async def subscribe(pool: asyncpg.Pool, agency_id: str, publisher: str, subscribed: bool) -> list[str]:
    """Start or stop matching `agency_id`'s reports against `publisher`'s claims; idempotent."""
    if publisher == agency_id:
        raise Invalid("klaim agensi sendiri selalu dipakai; tidak perlu berlangganan")
    if subscribed:
        await pool.execute(
            "INSERT INTO claim_subscriptions (agency_id, publisher) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            agency_id,
            publisher,
        )
    else:
        await pool.execute(
            "DELETE FROM claim_subscriptions WHERE agency_id = $1 AND publisher = $2", agency_id, publisher
        )
    rows = await pool.fetch(
        "SELECT publisher FROM claim_subscriptions WHERE agency_id = $1 ORDER BY publisher", agency_id
    )
    return [row["publisher"] for row in rows]
