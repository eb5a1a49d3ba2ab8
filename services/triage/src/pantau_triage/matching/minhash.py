"""MinHash fingerprints of report texts, and the LSH band keys that find near-duplicates.

A fingerprint is computed once per report and stored: its `content_key` (exact duplicates after
canonicalisation), its MinHash `signature` (`NUM_PERM` uint32 values, estimating the Jaccard
similarity of two texts' shingle sets) and its `band_keys` (`BANDS` signed 64-bit integers).

Shingles are word bigrams of the canonical text plus its word unigrams: bigrams keep the word order
of a message (two texts about the same topic share words, far fewer bigrams), unigrams keep a
fifteen-word tweet with one edited word above the threshold. Chosen by measurement on the
forward-variant evaluation set (`scripts/eval_dedupe.py`): see `matching/README.md`.

Band choice. Two texts become candidates when all `ROWS` values of at least one of the `BANDS`
bands agree, with probability 1 - (1 - s**ROWS)**BANDS for Jaccard similarity s. With 32 bands of
4 rows (128 permutations) the S-curve is centred near (1/32)**(1/4) = 0.42, below the
merge threshold `SIMILARITY_THRESHOLD` = 0.5, so that texts at the threshold are found with
probability 0.87, at 0.6 with 0.99, at 0.7 with 0.9999, while unrelated texts (s <= 0.1) collide
with probability <= 0.0032: the verification step sees few candidates. Every candidate is then
verified on the estimated Jaccard of the stored signatures, so the merge decision depends only on
stored data (band keys to find, signature to decide).

Everything here is deterministic across processes and machines (fixed seed, CRC-32 token hashes,
wrapping uint64 arithmetic): stored band keys stay valid across restarts. Changing any constant
changes `SCHEME_VERSION`, and stored fingerprints must then be recomputed.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache

import numpy as np
import numpy.typing as npt

from pantau_triage.matching.canonical import canonical_key, canonical_text

__all__ = [
    "BANDS",
    "MIN_WORDS",
    "NUM_PERM",
    "ROWS",
    "SCHEME_VERSION",
    "SIMILARITY_THRESHOLD",
    "Fingerprint",
    "band_keys",
    "fingerprint",
    "fingerprints",
    "signatures",
    "similarity",
]

SCHEME_VERSION = 1
NUM_PERM = 128
BANDS = 32
ROWS = 4
SEED = 20240214
# Estimated Jaccard at or above which two reports are merged into one case.
SIMILARITY_THRESHOLD = 0.5
# Below this many canonical words a text ("cek!", "hoaks ini?") says too little to be matched on
# similarity; such reports are merged on `content_key` alone.
MIN_WORDS = 5

Signature = npt.NDArray[np.uint32]
# texts hashed together: bounds the (NUM_PERM x shingles) uint64 scratch arrays to a few MB
_BATCH = 64
_U64 = np.uint64
_MASK32 = _U64(0xFFFFFFFF)
# splitmix64 / Murmur3 finaliser constants: good avalanche, so band keys spread over 64 bits
_MIX1 = _U64(0xBF58476D1CE4E5B9)
_MIX2 = _U64(0x94D049BB133111EB)
_GOLDEN = _U64(0x9E3779B97F4A7C15)


@dataclass(frozen=True, slots=True, eq=False)
class Fingerprint:
    """What is stored per report: `content_key` text, `to_bytes()` bytea, `band_keys` bigint[]."""

    content_key: str
    signature: Signature
    band_keys: list[int] = field(repr=False)

    def to_bytes(self) -> bytes:
        """The signature as little-endian uint32, `4 * NUM_PERM` bytes."""
        return self.signature.astype("<u4", copy=False).tobytes()

    @classmethod
    def from_bytes(cls, key: str, data: bytes) -> Fingerprint:
        if len(data) != 4 * NUM_PERM:
            raise ValueError(f"signature must be {4 * NUM_PERM} bytes, got {len(data)}")
        sig = np.frombuffer(data, dtype="<u4").astype(np.uint32)
        return cls(key, sig, band_keys(sig))


def fingerprint(text: str) -> Fingerprint | None:
    """Fingerprint of a report, or None when it has fewer than `MIN_WORDS` canonical words."""
    return fingerprints([text])[0]


def fingerprints(texts: Sequence[str]) -> list[Fingerprint | None]:
    """`fingerprint` of each text, hashing the whole batch in a few numpy operations."""
    canonical = [canonical_text(text) for text in texts]
    words = [text.split() for text in canonical]
    usable = [i for i, text_words in enumerate(words) if len(text_words) >= MIN_WORDS]
    results: list[Fingerprint | None] = [None] * len(texts)
    for start in range(0, len(usable), _BATCH):
        chunk = usable[start : start + _BATCH]
        sigs = signatures([words[i] for i in chunk])
        keys = _band_key_matrix(sigs).tolist()
        for row, i in enumerate(chunk):
            results[i] = Fingerprint(canonical_key(canonical[i]), sigs[row], keys[row])
    return results


def similarity(a: Fingerprint | Signature, b: Fingerprint | Signature) -> float:
    """Estimated Jaccard similarity: the share of permutations whose minimum agrees."""
    sig_a = a.signature if isinstance(a, Fingerprint) else a
    sig_b = b.signature if isinstance(b, Fingerprint) else b
    return float(np.count_nonzero(sig_a == sig_b)) / NUM_PERM


def signatures(word_lists: Sequence[list[str]]) -> npt.NDArray[np.uint32]:
    """MinHash (one row per text) of the word unigrams and bigrams; each list has >= 2 words."""
    lengths = np.fromiter((len(w) for w in word_lists), dtype=np.int64, count=len(word_lists))
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    tokens = np.fromiter(
        (zlib.crc32(word.encode("utf-8")) for w in word_lists for word in w),
        dtype=_U64,
        count=int(lengths.sum()),
    )
    with np.errstate(over="ignore"):
        bigrams = _mix64(tokens[:-1] * _GOLDEN + tokens[1:] + _U64(1)) & _MASK32
    unigram_hashes, bigram_hashes = _permuted(tokens), _permuted(bigrams)
    # the bigram joining the last word of one text to the first of the next is not a shingle
    bigram_hashes[:, (starts + lengths - 1)[:-1]] = np.iinfo(np.uint64).max
    unigram_min = np.minimum.reduceat(unigram_hashes, starts, axis=1)
    bigram_min = np.minimum.reduceat(bigram_hashes, starts, axis=1)
    return np.minimum(unigram_min, bigram_min).T.astype(np.uint32)


def _permuted(shingles: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """NUM_PERM x len(shingles) hash values, computed in place (temporaries cost 10x here)."""
    a, b = _permutations()
    # multiply-add-shift hashing (Dietzfelbinger): (a*x + b) mod 2**64, top 32 bits
    hashed = np.multiply.outer(a, shingles)
    hashed += b[:, None]
    hashed >>= _U64(32)
    return hashed


def band_keys(sig: Signature) -> list[int]:
    """One signed 64-bit key per band, distinct per band index (one GIN index serves all)."""
    keys: list[int] = _band_key_matrix(sig[None, :])[0].tolist()
    return keys


def _band_key_matrix(sigs: npt.NDArray[np.uint32]) -> npt.NDArray[np.int64]:
    rows = sigs.astype(_U64).reshape(len(sigs), BANDS, ROWS)
    with np.errstate(over="ignore"):
        key = np.broadcast_to(np.arange(1, BANDS + 1, dtype=_U64) * _GOLDEN, rows.shape[:2])
        for column in range(ROWS):
            key = _mix64(key ^ rows[:, :, column])
    return key.view(np.int64)


def _mix64(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    with np.errstate(over="ignore"):
        x = (x ^ (x >> _U64(30))) * _MIX1
        x = (x ^ (x >> _U64(27))) * _MIX2
        return x ^ (x >> _U64(31))


@cache
def _permutations() -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]]:
    rng = np.random.default_rng(SEED)
    a = rng.integers(0, 2**64, size=NUM_PERM, dtype=_U64, endpoint=False) | _U64(1)
    b = rng.integers(0, 2**64, size=NUM_PERM, dtype=_U64, endpoint=False)
    return a, b
