"""TF-IDF features over word n-grams and character n-grams, vectorised for whole batches.

Character n-grams are the expensive part of a TF-IDF model when built in Python, one slice
at a time. Here the whole batch is one byte array: every n-gram gets a 64-bit polynomial
hash computed with numpy, and the vocabulary is an open-addressing hash table looked up for
the whole batch at once (`HashIndex`). Word n-grams are few per text, so a plain dict is fast
enough, looked up with `map` so the loop runs in C.

Training (``scripts/train_classifier.py``) and inference share this module, which is what
keeps them consistent: there is no sklearn vectoriser whose behaviour could drift between
versions.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

__all__ = ["FeatureSpec", "HashIndex", "Vectoriser", "char_ngram_hashes", "word_ngrams"]

_HASH_BASE = np.uint64(0x100000001B3)
_LENGTH_SALT = 0x9E3779B97F4A7C15
_UINT64_MASK = (1 << 64) - 1
_TEXT_SEPARATOR = 0  # a NUL byte never occurs in normalised text


@dataclass(frozen=True)
class FeatureSpec:
    word_ngram_max: int = 2
    char_ngram_min: int = 2
    char_ngram_max: int = 5


def word_ngrams(text: str, max_n: int) -> list[str]:
    tokens = text.split()
    grams = list(tokens)
    for n in range(2, max_n + 1):
        grams.extend(" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    return grams


def char_ngram_hashes(texts: Sequence[str], min_n: int, max_n: int) -> tuple[np.ndarray, np.ndarray]:
    """Hash every character n-gram (over UTF-8 bytes) of every text.

    Each text is padded with one space on either side so word starts and ends form their
    own n-grams. Returns (row index, hash) arrays of equal length.
    """
    padded = b"\x00".join(b" " + t.encode("utf-8") + b" " for t in texts)
    data = np.frombuffer(padded, dtype=np.uint8).astype(np.uint64)
    is_separator = (data == _TEXT_SEPARATOR).astype(np.int64)
    # Row of each byte: number of separators before it.
    row_of_byte = np.cumsum(is_separator) - is_separator
    separators_before = np.concatenate(([0], np.cumsum(is_separator)))
    rows_out: list[np.ndarray] = []
    hashes_out: list[np.ndarray] = []
    rolling = np.zeros(len(data), dtype=np.uint64)
    for n in range(1, max_n + 1):
        length = len(data) - n + 1
        if length <= 0:
            break
        # rolling[i] holds the hash of data[i : i + n]; uint64 arithmetic wraps on purpose.
        rolling = rolling[:length] * _HASH_BASE + data[n - 1 : n - 1 + length]
        if n < min_n:
            continue
        crosses_text = separators_before[n : n + length] - separators_before[:length] > 0
        keep = ~crosses_text
        # Salting by length keeps "ab" apart from any 3-gram that hashes to the same value.
        mixed = rolling[keep] ^ np.uint64((_LENGTH_SALT * n) & _UINT64_MASK)
        rows_out.append(row_of_byte[:length][keep])
        hashes_out.append(mixed)
    if not hashes_out:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.uint64)
    return np.concatenate(rows_out), np.concatenate(hashes_out)


class HashIndex:
    """Positions of 64-bit hashes in a fixed vocabulary, for a whole batch of hashes at once.

    An open-addressing table (linear probing, at most a quarter full, so a lookup takes one
    or two probes), probed with numpy one round at a time for every hash still unresolved.
    Three times faster than `np.searchsorted` over the sorted vocabulary, whose binary search
    misses the cache at every step; the positions are the same."""

    _MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing: the top bits are mixed

    def __init__(self, keys: np.ndarray) -> None:
        bits = max(4, int(len(keys) * 4 - 1).bit_length())
        self._shift = np.uint64(64 - bits)
        self._mask = (1 << bits) - 1
        table: list[int] = [0] * (1 << bits)
        positions: list[int] = [-1] * (1 << bits)
        for position, (key, slot) in enumerate(zip(keys.tolist(), self._slots(keys).tolist(), strict=True)):
            while positions[slot] != -1:
                slot = (slot + 1) & self._mask
            table[slot], positions[slot] = key, position
        self._keys = np.array(table, dtype=np.uint64)
        self._positions = np.array(positions, dtype=np.int64)

    def _slots(self, hashes: np.ndarray) -> np.ndarray:
        return (hashes * self._MULTIPLIER >> self._shift).astype(np.int64)

    def lookup(self, hashes: np.ndarray) -> np.ndarray:
        """Each hash's position in the vocabulary, -1 for a hash not in it."""
        found = np.full(len(hashes), -1, dtype=np.int64)
        slots = self._slots(hashes)
        pending = np.arange(len(hashes))
        while len(pending):
            at = slots[pending]
            position = self._positions[at]
            occupied = position >= 0
            hit = occupied & (self._keys[at] == hashes[pending])
            found[pending[hit]] = position[hit]
            # Another key in the slot: probe the next one; an empty slot ends the search.
            pending = pending[occupied & ~hit]
            slots[pending] = (at[occupied & ~hit] + 1) & self._mask
        return found


class Vectoriser:
    """Sublinear TF-IDF over a fixed vocabulary; each block (words, chars) is L2-normalised."""

    def __init__(
        self,
        spec: FeatureSpec,
        words: Sequence[str],
        word_idf: np.ndarray,
        char_hashes: np.ndarray,
        char_idf: np.ndarray,
    ) -> None:
        order = np.argsort(char_hashes)
        if np.any(np.diff(char_hashes[order].view(np.int64)) == 0):
            raise ValueError("duplicate character n-gram hashes in the vocabulary")
        self.spec = spec
        self.words = list(words)
        self._word_index = {w: i for i, w in enumerate(self.words)}
        self.word_idf = np.asarray(word_idf, dtype=np.float32)
        self.char_hashes = np.asarray(char_hashes, dtype=np.uint64)[order]
        self.char_idf = np.asarray(char_idf, dtype=np.float32)[order]
        self._char_order = order
        self._char_index = HashIndex(self.char_hashes)

    @property
    def n_features(self) -> int:
        return len(self.words) + len(self.char_hashes)

    @property
    def char_order(self) -> np.ndarray:
        """Permutation applied to the given char vocabulary (to reorder its weights)."""
        return self._char_order

    @classmethod
    def fit(cls, texts: Sequence[str], spec: FeatureSpec, min_df: int = 2) -> Vectoriser:
        word_df: Counter[str] = Counter()
        for text in texts:
            word_df.update(set(word_ngrams(text, spec.word_ngram_max)))
        words = sorted(w for w, df in word_df.items() if df >= min_df)
        n_docs = len(texts)
        word_idf = np.array([_idf(word_df[w], n_docs) for w in words], dtype=np.float32)

        rows, hashes = char_ngram_hashes(texts, spec.char_ngram_min, spec.char_ngram_max)
        pairs = np.unique(np.stack([hashes, rows.astype(np.uint64)]), axis=1)
        unique_hashes, doc_freq = np.unique(pairs[0], return_counts=True)
        keep = doc_freq >= min_df
        char_idf = np.log((1 + n_docs) / (1 + doc_freq[keep])) + 1
        return cls(spec, words, word_idf, unique_hashes[keep], char_idf.astype(np.float32))

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Rows = texts, columns = word features then char features."""
        word_block = self._word_block(texts)
        char_block = self._char_block(texts)
        return sp.hstack([word_block, char_block], format="csr")

    def _word_block(self, texts: Sequence[str]) -> sp.csr_matrix:
        index = self._word_index
        indptr = [0]
        indices: list[int] = []
        counts: list[int] = []
        for text in texts:
            found = Counter(map(index.get, word_ngrams(text, self.spec.word_ngram_max)))
            found.pop(None, None)  # n-grams outside the vocabulary
            indices.extend(found.keys())  # type: ignore[arg-type]  # None was just removed
            counts.extend(found.values())
            indptr.append(len(indices))
        matrix = sp.csr_matrix(
            (np.asarray(counts, dtype=np.float32), np.asarray(indices, dtype=np.int32), indptr),
            shape=(len(texts), len(self.words)),
        )
        return _tfidf(matrix, self.word_idf)

    def _char_block(self, texts: Sequence[str]) -> sp.csr_matrix:
        rows, hashes = char_ngram_hashes(texts, self.spec.char_ngram_min, self.spec.char_ngram_max)
        vocab = self.char_hashes
        if len(vocab) == 0 or len(hashes) == 0:
            return sp.csr_matrix((len(texts), len(vocab)), dtype=np.float32)
        position = self._char_index.lookup(hashes)
        known = position >= 0
        # Counts per (text, n-gram) from one sort of combined keys; rows come out in order,
        # so the CSR arrays are built directly (no COO conversion, no sort of each row).
        cell, counts = np.unique(rows[known] * len(vocab) + position[known], return_counts=True)
        indptr = np.searchsorted(cell // len(vocab), np.arange(len(texts) + 1))
        matrix = sp.csr_matrix(
            (counts.astype(np.float32), (cell % len(vocab)).astype(np.int32), indptr),
            shape=(len(texts), len(vocab)),
        )
        return _tfidf(matrix, self.char_idf)


def _idf(doc_freq: int, n_docs: int) -> float:
    # Same smoothing as sklearn's TfidfVectorizer(smooth_idf=True).
    return math.log((1 + n_docs) / (1 + doc_freq)) + 1


def _tfidf(counts: sp.csr_matrix, idf: np.ndarray) -> sp.csr_matrix:
    counts.data = (1 + np.log(counts.data)) * idf[counts.indices]
    row_lengths = np.diff(counts.indptr)
    row_of_entry = np.repeat(np.arange(counts.shape[0]), row_lengths)
    squared = np.bincount(row_of_entry, weights=counts.data**2, minlength=counts.shape[0])
    norms = np.sqrt(squared).astype(np.float32)
    norms[norms == 0] = 1
    counts.data /= norms[row_of_entry]
    return counts
