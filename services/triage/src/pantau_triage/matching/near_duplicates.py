"""The merge decision for two reports, and an in-memory index that applies it at scale.

The service keeps its index in PostgreSQL (`content_key text`, `signature bytea`, `band_keys
bigint[]` with a GIN index) and decides exactly as `NearDuplicateIndex.query` does:

    SELECT id, signature FROM fingerprints
    WHERE content_key = $1 OR band_keys && $2          -- index probes only
    -- then keep rows where is_near_duplicate(query, Fingerprint.from_bytes(key, signature))

How lookup scales: a query is `BANDS` (32) index probes plus one verification per candidate,
independent of how many fingerprints are stored; candidates are the stored texts that share a
whole band with the query, which the band design keeps to near-duplicates and a small fraction of
same-topic texts (see `minhash`). `eval_dedupe.py` reports the measured candidates per query per
thousand stored texts, and `bench/matching.py` the query rate against 100k and 1M stored items.
Intake cost is one fingerprint (tens of microseconds) and `BANDS` index entries per report.

`NearDuplicateIndex` is for evaluation, benchmarks and tests: it keeps all signatures in memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from pantau_triage.matching.minhash import (
    BANDS,
    NUM_PERM,
    SIMILARITY_THRESHOLD,
    Fingerprint,
    similarity,
)

__all__ = ["NearDuplicate", "NearDuplicateIndex", "is_near_duplicate"]


def is_near_duplicate(a: Fingerprint, b: Fingerprint) -> bool:
    """The merge decision: same canonical text, or estimated Jaccard >= SIMILARITY_THRESHOLD."""
    return a.content_key == b.content_key or similarity(a, b) >= SIMILARITY_THRESHOLD


@dataclass(frozen=True, slots=True)
class NearDuplicate:
    item_id: str
    similarity: float


class NearDuplicateIndex:
    """Band-key postings over stored fingerprints; `query` returns the items to merge with.

    Postings live in two tiers so both bulk loads and one-at-a-time intake stay cheap: a sorted
    array of (band key, item) searched with `np.searchsorted`, and a dict of recent additions that
    is merged into the array once it holds `merge_every` items.
    """

    def __init__(self, merge_every: int = 50_000) -> None:
        self._merge_every = merge_every
        self._ids: list[str] = []
        self._signatures = np.empty((1024, NUM_PERM), dtype=np.uint32)
        self._by_content_key: dict[str, list[int]] = {}
        self._sorted_keys = np.empty(0, dtype=np.int64)
        self._sorted_items = np.empty(0, dtype=np.int32)
        self._recent: dict[int, list[int]] = {}
        self._recent_count = 0

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, item_id: str, fp: Fingerprint) -> None:
        item = len(self._ids)
        self._ids.append(item_id)
        if item == len(self._signatures):
            self._signatures = np.concatenate([self._signatures, np.empty_like(self._signatures)])
        self._signatures[item] = fp.signature
        self._by_content_key.setdefault(fp.content_key, []).append(item)
        for key in fp.band_keys:
            self._recent.setdefault(key, []).append(item)
        self._recent_count += 1
        if self._recent_count >= self._merge_every:
            self._merge_recent(np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int32))

    def add_many(self, items: Sequence[tuple[str, Fingerprint]]) -> None:
        """Bulk load: appends all postings at once and merges them into the sorted tier."""
        first = len(self._ids)
        for item_id, fp in items:
            self._by_content_key.setdefault(fp.content_key, []).append(len(self._ids))
            self._ids.append(item_id)
        while len(self._signatures) < len(self._ids):
            self._signatures = np.concatenate([self._signatures, np.empty_like(self._signatures)])
        if items:
            self._signatures[first : len(self._ids)] = np.stack([fp.signature for _, fp in items])
        keys = np.array([fp.band_keys for _, fp in items], dtype=np.int64).reshape(-1)
        positions = np.repeat(np.arange(first, len(self._ids), dtype=np.int32), BANDS)
        self._merge_recent(keys, positions)

    def query(self, fp: Fingerprint, limit: int | None = None) -> list[NearDuplicate]:
        """Stored items `is_near_duplicate` with `fp`, most similar first."""
        candidates = self.candidates(fp)
        if candidates.size == 0:
            return []
        agree = np.count_nonzero(self._signatures[candidates] == fp.signature, axis=1)
        scores = agree / NUM_PERM
        same_text = np.isin(candidates, self._by_content_key.get(fp.content_key, []))
        scores[same_text] = 1.0
        keep = scores >= SIMILARITY_THRESHOLD
        order = np.argsort(-scores[keep], kind="stable")[:limit]
        kept, kept_scores = candidates[keep][order], scores[keep][order]
        return [
            NearDuplicate(self._ids[item], float(score))
            for item, score in zip(kept.tolist(), kept_scores.tolist(), strict=True)
        ]

    def candidates(self, fp: Fingerprint) -> npt.NDArray[np.int64]:
        """Internal positions sharing a band key or the content key: what the GIN index returns."""
        keys = np.asarray(fp.band_keys, dtype=np.int64)
        starts = np.searchsorted(self._sorted_keys, keys, side="left")
        ends = np.searchsorted(self._sorted_keys, keys, side="right")
        found = [self._sorted_items[s:e] for s, e in zip(starts, ends, strict=True) if e > s]
        recent = [self._recent[key] for key in fp.band_keys if key in self._recent]
        exact = self._by_content_key.get(fp.content_key, [])
        if not found and not recent and not exact:
            return np.empty(0, dtype=np.int64)
        pieces = [*found, *(np.asarray(r, dtype=np.int32) for r in recent)]
        pieces.append(np.asarray(exact, dtype=np.int32))
        return np.unique(np.concatenate(pieces)).astype(np.int64)

    def _merge_recent(self, more_keys: npt.NDArray[np.int64], more_items: npt.NDArray[np.int32]) -> None:
        lengths = [len(items) for items in self._recent.values()]
        new_keys = np.repeat(np.fromiter(self._recent, dtype=np.int64), lengths)
        new_items = np.fromiter(
            (item for items in self._recent.values() for item in items),
            dtype=np.int32,
            count=sum(lengths),
        )
        keys = np.concatenate([self._sorted_keys, new_keys, more_keys])
        items = np.concatenate([self._sorted_items, new_items, more_items])
        order = np.argsort(keys, kind="stable")
        self._sorted_keys, self._sorted_items = keys[order], items[order]
        self._recent.clear()
        self._recent_count = 0
