"""Precision, coverage and false matches of claim matching, on the Suryadikara fact-check topics.

Each topic's on-topic tweets (True / False / Misleading News) stand in for one fact-checked claim.
Per split (fixed seeds): a fifth of the topics are left out of the registry entirely; of the other
topics, about 30% of the on-topic tweets are held out as queries and the rest are the registry's
claims. Reported, summed over the splits:

- P@1 of accepted matches: the accepted best claim belongs to the query's topic;
- coverage: held-out on-topic tweets that get an accepted match (and a correct one);
- false-match rate: accepted matches for tweets of the left-out topics, and for "Other" tweets
  (collected with a topic's keywords but not about its claim).

The data may not be shipped with Pantau: pass its path.

    python services/triage/scripts/eval_claims.py --data /work/shared/data/suryadikara2019/train.tsv
"""

from __future__ import annotations

import argparse
import csv
import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pantau_triage.matching.claims import ACCEPT_THRESHOLD, Claim, ClaimMatcher

ON_TOPIC = frozenset({"True News", "False News", "Misleading News"})
SEEDS = (11, 22, 33, 44, 55)
HELD_OUT_SHARE = 0.3
LEFT_OUT_TOPICS = 0.2
SWEEP = (0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5)


@dataclass(frozen=True, slots=True)
class Tweet:
    text: str
    topic: str
    on_topic: bool


@dataclass(slots=True)
class Scored:
    """Best-claim score per query group, with whether that claim is of the query's topic."""

    registered: list[tuple[float, bool]] = field(default_factory=list)
    unregistered: list[float] = field(default_factory=list)
    other: list[float] = field(default_factory=list)


def read_tweets(path: Path) -> list[Tweet]:
    with path.open(encoding="utf-8", newline="") as handle:
        return [
            Tweet(row["tweets"], row["topic"], row["class"] in ON_TOPIC)
            for row in csv.DictReader(handle, delimiter="\t")
        ]


def run_split(tweets: list[Tweet], seed: int, scored: Scored) -> None:
    rng = random.Random(seed)
    by_topic: dict[str, list[Tweet]] = {}
    for tweet in tweets:
        if tweet.on_topic:
            by_topic.setdefault(tweet.topic, []).append(tweet)
    topics = sorted(by_topic)
    left_out = set(rng.sample(topics, round(LEFT_OUT_TOPICS * len(topics))))
    claims: list[Claim] = []
    claim_topics: list[str] = []
    queries: list[Tweet] = []
    for topic in topics:
        if topic in left_out:
            continue
        group = by_topic[topic][:]
        rng.shuffle(group)
        held = min(len(group) - 1, max(1, round(HELD_OUT_SHARE * len(group))))
        queries += group[:held]
        for tweet in group[held:]:
            claims.append(Claim(f"c{len(claims)}", tweet.text, "unknown", "", None))
            claim_topics.append(topic)
    matcher = ClaimMatcher.build(claims)

    columns, values = matcher.best_scores([q.text for q in queries])
    for query, column, value in zip(queries, columns, values, strict=True):
        right = bool(column >= 0 and claim_topics[column] == query.topic)
        scored.registered.append((float(value), right))
    unregistered = [t.text for topic in left_out for t in by_topic[topic]]
    scored.unregistered += matcher.best_scores(unregistered)[1].tolist()
    scored.other += matcher.best_scores([t.text for t in tweets if not t.on_topic])[1].tolist()


def report(scored: Scored) -> None:
    scores = np.array([score for score, _ in scored.registered])
    correct = np.array([right for _, right in scored.registered])
    unregistered, other = np.array(scored.unregistered), np.array(scored.other)
    print(
        f"splits: {len(SEEDS)}; held-out on-topic queries: {len(scores)}, "
        f"tweets of left-out topics: {len(unregistered)}, Other tweets: {len(other)}"
    )
    print(f"P@1 with no threshold (every held-out query): {correct.mean():.4f}")
    print("threshold | P@1 accepted | coverage (correct) | false match: left-out topic / Other")
    for threshold in sorted({*SWEEP, ACCEPT_THRESHOLD}):
        accepted = scores >= threshold
        precision = (accepted & correct).sum() / max(1, accepted.sum())
        marker = "  <- ACCEPT_THRESHOLD" if threshold == ACCEPT_THRESHOLD else ""
        print(
            f"  {threshold:.2f}    | {precision:.4f}       | {accepted.mean():.4f} "
            f"({(accepted & correct).mean():.4f})    | {(unregistered >= threshold).mean():.4f} / "
            f"{(other >= threshold).mean():.4f}{marker}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="suryadikara2019/train.tsv")
    args = parser.parse_args()
    tweets = read_tweets(args.data)
    scored = Scored()
    for seed in SEEDS:
        run_split(tweets, seed, scored)
    report(scored)


if __name__ == "__main__":
    main()
