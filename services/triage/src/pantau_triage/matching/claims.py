"""Match report texts against a registry of claims that fact-checkers have already examined.

A classifier cannot tell a new hoax from news; what triage can do is recognise a claim that
Mafindo, Cek Fakta Tempo or Komdigi have already checked. Each text is compared with every claim
by the cosine of TF-IDF vectors over word unigrams and bigrams (sublinear tf, smoothed idf, L2
norm): one sparse matrix product per batch, top-k per row without densifying.

Acceptance: a best match is `accepted` when its cosine is at least `ACCEPT_THRESHOLD`, tuned on
held-out tweets of fact-checked topics (`scripts/eval_claims.py`; see `matching/README.md` for the
figures). Below it the best claim is still returned, for a person to look at, but not asserted.

Cost: terms found in more than `COMMON_TERM_DF` claims are dropped from the vocabulary. They carry
little evidence (idf) and their posting lists would dominate the product, whose cost is the sum
over a text's terms of the number of claims containing them. Building is one pass over the claims
(about a second per 100,000); `add` rebuilds, as idf changes with every claim. The service stores
the claims in PostgreSQL and calls `ClaimMatcher.build(claims)` at start-up and on change; the
claim list is the whole serialised form.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

from pantau_triage.matching.sparse_top_k import top_1, top_k_per_row

__all__ = ["ACCEPT_THRESHOLD", "COMMON_TERM_DF", "Claim", "ClaimMatch", "ClaimMatcher"]

ACCEPT_THRESHOLD = 0.35
COMMON_TERM_DF = 1000
# texts transformed and multiplied together: bounds the product's memory
_BATCH = 4096

_WORD = re.compile(r"[^\W_]+")
# Function words, chat spellings of them, and link debris: present in most texts of any claim.
_STOP_WORDS = frozenset(
    """
    yang yg dan di ke dari dr ini itu dengan dgn untuk utk pada pd adalah akan juga atau karena
    krn oleh dalam dlm ada tidak tdk gak ga nggak sudah udah sdh saja aja bisa bs kita kami saya
    aku kamu anda dia mereka kalau kalo klo jadi jd tapi tp lagi sama sm nya pun lah kah mau
    the of to and a in is rt amp https http www com co id html
    """.split()
)


@dataclass(frozen=True, slots=True)
class Claim:
    claim_id: str
    text: str
    verdict: str
    source_url: str
    checked_on: date | None = None


@dataclass(frozen=True, slots=True)
class ClaimMatch:
    claim_id: str
    score: float
    accepted: bool


def claim_terms(text: str) -> list[str]:
    """Words (without function words) and adjacent-word bigrams of `text`, lower-cased.

    Lighter than `canonical_text` on purpose: matching runs on every patrol item, and forwarding
    wrappers barely move a cosine dominated by the claim's rare words.
    """
    words = [w for w in _WORD.findall(text.lower()) if w not in _STOP_WORDS and len(w) > 1]
    return words + [f"{first} {second}" for first, second in itertools.pairwise(words)]


class ClaimMatcher:
    """Best-matching claims for batches of texts. Build with `ClaimMatcher.build(claims)`."""

    def __init__(
        self,
        claims: tuple[Claim, ...],
        vectorizer: TfidfVectorizer,
        claim_matrix_t: sparse.csr_matrix,
    ) -> None:
        self._claims = claims
        self._vectorizer = vectorizer
        self._claim_matrix_t = claim_matrix_t

    @classmethod
    def build(cls, claims: Iterable[Claim]) -> ClaimMatcher:
        claim_tuple = tuple(claims)
        if not claim_tuple:
            raise ValueError("a claim matcher needs at least one claim")
        vectorizer = TfidfVectorizer(
            analyzer=claim_terms,
            sublinear_tf=True,
            max_df=COMMON_TERM_DF,
            dtype=np.float32,
        )
        try:
            matrix = vectorizer.fit_transform([claim.text for claim in claim_tuple])
        except ValueError:
            # every term common to more than COMMON_TERM_DF claims: keep them all
            vectorizer.set_params(max_df=1.0)
            matrix = vectorizer.fit_transform([claim.text for claim in claim_tuple])
        return cls(claim_tuple, vectorizer, matrix.T.tocsr())

    @property
    def claims(self) -> tuple[Claim, ...]:
        """The registry; `ClaimMatcher.build(matcher.claims)` rebuilds an equal matcher."""
        return self._claims

    def __len__(self) -> int:
        return len(self._claims)

    def add(self, claims: Iterable[Claim]) -> ClaimMatcher:
        """A matcher over the current and the new claims (a claim_id given again replaces it)."""
        new = {claim.claim_id: claim for claim in claims}
        kept = [claim for claim in self._claims if claim.claim_id not in new]
        return ClaimMatcher.build([*kept, *new.values()])

    def match(self, texts: Sequence[str], top_k: int = 1) -> list[list[ClaimMatch]]:
        """Up to `top_k` claims per text, best first; an empty list when nothing is shared."""
        results: list[list[ClaimMatch]] = []
        for start in range(0, len(texts), _BATCH):
            scores = self._scores(texts[start : start + _BATCH])
            for columns, values in top_k_per_row(scores, top_k):
                results.append(
                    [
                        ClaimMatch(
                            self._claims[column].claim_id,
                            float(value),
                            bool(value >= ACCEPT_THRESHOLD),
                        )
                        for column, value in zip(columns.tolist(), values.tolist(), strict=True)
                    ]
                )
        return results

    def best_scores(self, texts: Sequence[str]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """Position in `claims` (-1 when nothing is shared) and cosine of the best claim."""
        columns, values = [], []
        for start in range(0, len(texts), _BATCH):
            batch_columns, batch_values = top_1(self._scores(texts[start : start + _BATCH]))
            columns.append(batch_columns)
            values.append(batch_values)
        if not columns:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
        return np.concatenate(columns), np.concatenate(values)

    def _scores(self, texts: Sequence[str]) -> sparse.csr_matrix:
        # claims are stored transposed (terms x claims, CSR): the product needs no conversion
        product: sparse.csr_matrix = self._vectorizer.transform(texts) @ self._claim_matrix_t
        return product
