"""Precision and recall of the near-duplicate merge decision, through the LSH index.

Every pair's first text is stored in a `NearDuplicateIndex`; its second text is looked up, and the
pair counts as merged when the first text comes back. So the figures include what LSH banding
misses, not only the similarity threshold. `--data` is a `.jsonl` from `build_dedupe_eval.py`, or
a base-text file (`train.tsv` / `train.csv`) from which the pairs are built in memory.

    python services/triage/scripts/eval_dedupe.py --data /work/shared/data/suryadikara2019/train.tsv
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from build_dedupe_eval import DEFAULT_SEED, LabelledPair, load_or_build

from pantau_triage.matching.canonical import content_key
from pantau_triage.matching.minhash import SIMILARITY_THRESHOLD, fingerprint, similarity
from pantau_triage.matching.near_duplicates import NearDuplicateIndex

SWEEP = (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7)


@dataclass(frozen=True, slots=True)
class PairOutcome:
    pair: LabelledPair
    fingerprinted: bool
    same_text: bool
    found_by_bands: bool
    estimated_jaccard: float
    merged_by_index: bool

    def merged_at(self, threshold: float) -> bool:
        return self.same_text or (self.found_by_bands and self.estimated_jaccard >= threshold)


def evaluate(pairs: list[LabelledPair]) -> tuple[list[PairOutcome], float]:
    """Outcome per pair, and candidates returned per query per thousand stored texts."""
    index = NearDuplicateIndex()
    stored = [fingerprint(pair.text_a) for pair in pairs]
    # a base text is the first text of several pairs; store it once, as the service would
    internal: dict[int, int] = {}
    by_text: dict[str, int] = {}
    for position, (pair, fp) in enumerate(zip(pairs, stored, strict=True)):
        if fp is not None:
            if pair.text_a not in by_text:
                by_text[pair.text_a] = len(index)
                index.add(str(by_text[pair.text_a]), fp)
            internal[position] = by_text[pair.text_a]
    outcomes, candidate_counts = [], []
    for position, (pair, stored_fp) in enumerate(zip(pairs, stored, strict=True)):
        same_text = content_key(pair.text_a) == content_key(pair.text_b)
        query_fp = fingerprint(pair.text_b)
        if query_fp is None or stored_fp is None:
            outcomes.append(PairOutcome(pair, False, same_text, False, 0.0, same_text))
            continue
        candidates = index.candidates(query_fp)
        candidate_counts.append(len(candidates))
        merged = any(hit.item_id == str(internal[position]) for hit in index.query(query_fp))
        outcomes.append(
            PairOutcome(
                pair,
                True,
                same_text,
                bool(np.isin(internal[position], candidates)),
                similarity(stored_fp, query_fp),
                merged,
            )
        )
    per_thousand = float(np.mean(candidate_counts)) / max(1, len(index)) * 1000
    return outcomes, per_thousand


def precision_recall(outcomes: list[PairOutcome], threshold: float) -> tuple[float, float, int]:
    merged = np.array([o.merged_at(threshold) for o in outcomes])
    truth = np.array([o.pair.duplicate for o in outcomes])
    true_merges = int(np.sum(merged & truth))
    precision = true_merges / max(1, int(merged.sum()))
    recall = true_merges / max(1, int(truth.sum()))
    return precision, recall, int(np.sum(merged & ~truth))


def report(outcomes: list[PairOutcome], per_thousand: float) -> None:
    truth = [o.pair.duplicate for o in outcomes]
    print(f"pairs: {len(outcomes)} ({sum(truth)} duplicates, {len(truth) - sum(truth)} not)")
    merged = np.array([o.merged_by_index for o in outcomes])
    is_dup = np.array(truth)
    precision = int(np.sum(merged & is_dup)) / max(1, int(merged.sum()))
    recall = int(np.sum(merged & is_dup)) / max(1, int(is_dup.sum()))
    print(
        f"merge decision via the index at threshold {SIMILARITY_THRESHOLD}: "
        f"precision {precision:.4f}  recall {recall:.4f}"
    )
    for kind in sorted({o.pair.kind for o in outcomes if not o.pair.duplicate}):
        group = [o for o in outcomes if o.pair.kind == kind]
        wrong = sum(o.merged_by_index for o in group)
        print(f"  {kind}: {wrong}/{len(group)} wrongly merged ({wrong / len(group):.2%})")
    above_but_missed = sum(
        o.pair.duplicate and not o.found_by_bands and o.estimated_jaccard >= SIMILARITY_THRESHOLD
        for o in outcomes
    )
    print(f"  duplicates above the threshold that banding did not surface: {above_but_missed}")
    too_short = sum(o.pair.duplicate and not o.fingerprinted for o in outcomes)
    print(f"  duplicates too short to fingerprint (content key only): {too_short}")
    print(f"  candidates per query per 1,000 stored texts: {per_thousand:.2f}")
    missed = Counter(
        step
        for o in outcomes
        if o.pair.duplicate and not o.merged_by_index
        for step in re.split(r"[(|+)]", o.pair.kind.split(":", 1)[1])
        if step and step != "two_chains"
    )
    print(
        "  mutations among missed duplicates: "
        + ", ".join(f"{step} {count}" for step, count in missed.most_common())
    )
    print("threshold sweep (same candidates, decision at each threshold):")
    for threshold in SWEEP:
        p, r, wrong = precision_recall(outcomes, threshold)
        print(f"  {threshold:.2f}: precision {p:.4f}  recall {r:.4f}  wrong merges {wrong}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args()
    outcomes, per_thousand = evaluate(load_or_build(args.data, args.seed))
    report(outcomes, per_thousand)


if __name__ == "__main__":
    main()
