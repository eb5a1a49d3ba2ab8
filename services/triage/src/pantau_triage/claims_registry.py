"""The fact-checked claims a report is matched against, kept in memory per instance.

Claims change rarely (a fact-checker's batch a day), so each instance rebuilds its matcher when
the table has changed, checked at most every `refresh_s` seconds; the instance that imports
claims rebuilds at once.
"""

import time
from collections.abc import Sequence

import asyncpg

from pantau_shared.contract import ClaimRef
from pantau_shared.contract.rpc import ClaimIn

from .matching import Claim, ClaimMatcher


class ClaimRegistry:
    def __init__(self, refresh_s: float = 30.0) -> None:
        self._matcher: ClaimMatcher | None = None
        self._version: tuple[int, object] | None = None
        self._checked = 0.0
        self._refresh_s = refresh_s
        self._claims: dict[str, Claim] = {}

    async def refresh(self, pool: asyncpg.Pool, *, force: bool = False) -> None:
        if not force and time.monotonic() - self._checked < self._refresh_s:
            return
        self._checked = time.monotonic()
        version = tuple(await pool.fetchrow("SELECT count(*), max(added_at) FROM claims"))
        if version == self._version and not force:
            return
        rows = await pool.fetch("SELECT claim_id, text, verdict, source_url, checked_on FROM claims")
        claims = [
            Claim(r["claim_id"], r["text"], r["verdict"], r["source_url"], r["checked_on"]) for r in rows
        ]
        self._claims = {c.claim_id: c for c in claims}
        self._matcher = ClaimMatcher.build(claims) if claims else None
        self._version = version  # type: ignore[assignment]

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
            for matches in self._matcher.match(texts)
        ]


async def import_claims(pool: asyncpg.Pool, claims: Sequence[ClaimIn], added_by: str) -> int:
    await pool.executemany(
        "INSERT INTO claims (claim_id, text, verdict, source_url, checked_on, added_by)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (claim_id) DO UPDATE SET text ="
        " EXCLUDED.text, verdict = EXCLUDED.verdict, source_url = EXCLUDED.source_url,"
        " checked_on = EXCLUDED.checked_on, added_at = now()",
        [(c.claim_id, c.text, c.verdict, c.source_url, c.checked_on, added_by) for c in claims],
    )
    return len(claims)
