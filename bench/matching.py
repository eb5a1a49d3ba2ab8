"""Throughput of near-duplicate lookup and claim matching, on synthetic Indonesian-like text.

Runs anywhere (no data files): texts are drawn from a Zipf-distributed vocabulary of common
Indonesian words plus generated syllable words. One thread, one core. The near-duplicate index is
the in-memory `NearDuplicateIndex` (the service uses PostgreSQL; this measures the algorithm, not
the database). Baselines are measured in the same run on a 10,000-item subset and scaled.

    .venv/bin/python bench/matching.py [--large 1000000]
"""

from __future__ import annotations

import argparse
import itertools
import os
import resource
import time
from collections.abc import Callable
from typing import Any

COMMON_WORDS = """
yang dan di ke dari ini itu dengan untuk pada adalah akan tidak sudah ada kita warga pemilu
pilkada kpu bawaslu tps surat suara calon presiden paslon kampanye hoaks berita beredar video
foto kabar kotak logistik gudang desa kepala camat bupati gubernur partai relawan tim sukses
amplop uang serangan fajar masa tenang coblos dicoblos curang kecurangan server hasil hitung
quick count survei debat jokowi prabowo anies ganjar jakarta surabaya bandung medan makassar
polisi laporan viral sebarkan penting benar palsu fitnah isu ulama asn netral kades
""".split()
SYLLABLES = "ba be bi bo bu ka ke ki ko ku ma me mi mo mu na ni nu ra ri ru sa si su ta ti tu "
SYLLABLES += "la li lu pa pi pu ga gi gu da di du ja ji ju wa wi ng ny an in un ar ir ur"


class Corpus:
    """Texts drawn from a Zipf(1.1) vocabulary: common words at the head, syllable words after."""

    def __init__(self, seed: int, vocabulary: int = 60_000) -> None:
        import numpy as np

        self._rng = np.random.default_rng(seed)
        syllables = SYLLABLES.split()
        generated: set[str] = set()
        while len(generated) < vocabulary - len(COMMON_WORDS):
            parts = self._rng.integers(0, len(syllables), size=self._rng.integers(2, 5))
            generated.add("".join(syllables[p] for p in parts))
        self.words = np.array(COMMON_WORDS + sorted(generated))
        ranks = np.arange(1, len(self.words) + 1, dtype=np.float64)
        self._p = ranks**-1.1 / np.sum(ranks**-1.1)

    def texts(self, count: int, low: int = 15, high: int = 45) -> list[str]:
        lengths = self._rng.integers(low, high, size=count)
        flat = self.words[self._rng.choice(len(self.words), size=int(lengths.sum()), p=self._p)]
        bounds = [0, *lengths.cumsum().tolist()]
        return [" ".join(flat[a:b]) for a, b in itertools.pairwise(bounds)]

    def forward(self, text: str) -> str:
        """A WhatsApp forward: header, one word changed, emoji, a footer."""
        words = text.split()
        words[int(self._rng.integers(len(words)))] = str(self._rng.choice(self.words[:200]))
        return "Diteruskan\n*PENTING* 🔥 " + " ".join(words).upper() + "\n\nSumber: grup WA"

    def paraphrase(self, text: str) -> str:
        """Drop a third of the words, add a few others: a retelling of the claim."""
        words = text.split()
        keep = self._rng.random(len(words)) > 0.33
        extra = self._rng.choice(self.words[:2000], size=4).tolist()
        return " ".join([w for w, k in zip(words, keep, strict=True) if k] + extra)


def timed(label: str, count: int, action: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = action()
    elapsed = time.perf_counter() - start
    print(f"{label}: {count / elapsed:,.0f}/s ({count:,} in {elapsed:.2f} s)")
    return count / elapsed, result


def bench_near_duplicates(corpus: Corpus, sizes: list[int]) -> None:
    from pantau_triage.matching.minhash import fingerprints, similarity
    from pantau_triage.matching.near_duplicates import NearDuplicateIndex

    sample = corpus.texts(20_000)
    timed("fingerprints (batch of 20,000)", len(sample), lambda: fingerprints(sample))
    stored = corpus.texts(max(sizes))
    index = NearDuplicateIndex(merge_every=250_000)
    loaded = 0
    for size in sorted(sizes):
        chunk = stored[loaded:size]
        started = time.perf_counter()
        index.add_many([(str(loaded + offset), fp) for offset, fp in enumerate(fingerprints(chunk)) if fp])
        loaded = size
        elapsed = time.perf_counter() - started
        print(f"index filled to {size:,} (last {len(chunk):,} in {elapsed:.1f} s, bulk load)")
        queries = [corpus.forward(stored[i]) for i in range(0, 2000)]
        query_fps = [fp for fp in fingerprints(queries) if fp is not None]
        rate, hits = timed(
            f"near-duplicate queries against {size:,}",
            len(query_fps),
            lambda fps=query_fps: [index.query(fp) for fp in fps],
        )
        found = sum(any(h.item_id == str(i) for h in hit) for i, hit in enumerate(hits))
        candidates = sum(len(index.candidates(fp)) for fp in query_fps[:500]) / 500
        print(f"  forwards found: {found}/{len(query_fps)}; mean candidates per query {candidates:.1f}")
    # baseline: compare the query's signature with every stored signature, no banding
    subset = [fp for fp in fingerprints(stored[:10_000]) if fp is not None]
    few = query_fps[:50]
    naive_rate, _ = timed(
        "baseline: signature compared with every stored item (10,000 stored)",
        len(few),
        lambda: [[similarity(q, s) for s in subset] for q in few],
    )
    scaled = naive_rate * len(subset) / max(sizes)
    print(f"  scaled to {max(sizes):,} stored: {scaled:,.2f}/s; LSH index is {rate / scaled:,.0f}x faster")


def bench_claims(corpus: Corpus, claim_count: int) -> None:
    import numpy as np

    from pantau_triage.matching.claims import Claim, ClaimMatcher, claim_terms

    claim_texts = corpus.texts(claim_count, 10, 30)
    claims = [Claim(f"c{i}", text, "hoaks", "") for i, text in enumerate(claim_texts)]
    started = time.perf_counter()
    matcher = ClaimMatcher.build(claims)
    elapsed = time.perf_counter() - started
    print(f"claim matcher built over {claim_count:,} claims in {elapsed:.1f} s")
    queries = [corpus.paraphrase(claim_texts[i]) for i in range(10_000)] + corpus.texts(10_000)
    rate, (columns, _) = timed(
        f"claim matches against {claim_count:,} claims",
        len(queries),
        lambda: matcher.best_scores(queries),
    )
    right = int(np.sum(columns[:10_000] == np.arange(10_000)))
    print(f"  paraphrases matched to their own claim: {right}/10,000")
    # baseline: per text, cosine of term sets with every claim (no index), on a 10k subset
    claim_sets = [set(claim_terms(text)) for text in claim_texts[:10_000]]
    few = queries[:20]

    def naive() -> list[int]:
        best = []
        for text in few:
            terms = set(claim_terms(text))
            scores = [len(terms & c) / (len(terms) * len(c)) ** 0.5 for c in claim_sets if c]
            best.append(int(np.argmax(scores)))
        return best

    label = "baseline: naive term-set cosine per claim (10,000 claims)"
    naive_rate, _ = timed(label, len(few), naive)
    scaled = naive_rate * 10_000 / claim_count
    print(
        f"  scaled to {claim_count:,} claims: {scaled:,.1f}/s; sparse matcher is {rate / scaled:,.0f}x faster"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", type=int, default=1_000_000, help="largest index size")
    parser.add_argument("--claims", type=int, default=100_000)
    args = parser.parse_args()
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = "1"
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    corpus = Corpus(seed=7)
    bench_near_duplicates(corpus, sorted({100_000, args.large}))
    bench_claims(corpus, args.claims)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (max RSS): {peak_mb:,.0f} MB")


if __name__ == "__main__":
    main()
