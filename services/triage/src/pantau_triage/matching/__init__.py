"""Matching report texts: near-duplicate reports (one case) and fact-checked claims (registry)."""

from pantau_triage.matching.canonical import canonical_text, content_key
from pantau_triage.matching.claims import (
    ACCEPT_THRESHOLD,
    Claim,
    ClaimMatch,
    ClaimMatcher,
)
from pantau_triage.matching.minhash import (
    SIMILARITY_THRESHOLD,
    Fingerprint,
    band_keys,
    fingerprint,
    fingerprints,
    similarity,
)
from pantau_triage.matching.near_duplicates import (
    NearDuplicate,
    NearDuplicateIndex,
    is_near_duplicate,
)

__all__ = [
    "ACCEPT_THRESHOLD",
    "SIMILARITY_THRESHOLD",
    "Claim",
    "ClaimMatch",
    "ClaimMatcher",
    "Fingerprint",
    "NearDuplicate",
    "NearDuplicateIndex",
    "band_keys",
    "canonical_text",
    "content_key",
    "fingerprint",
    "fingerprints",
    "is_near_duplicate",
    "similarity",
]
