"""Throughput and memory of the triage NLP pieces on ONE core, against a plain sklearn baseline.

    .venv/bin/python bench/classifier.py [--data PATH.csv] [--repeat 3]

--data: a CSV with a "Tweet" column (e.g. Ibrohim & Budi train.csv); default: a synthetic
Indonesian corpus generated in-process, so the bench runs anywhere.
"""

from __future__ import annotations

import os

# Pin BLAS/OpenMP to one thread before numpy is imported; that is the point of this bench.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import csv  # noqa: E402
import random  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.multiclass import OneVsRestClassifier  # noqa: E402

from pantau_triage.nlp.classifier import ContentClassifier  # noqa: E402
from pantau_triage.nlp.normalise import normalise  # noqa: E402
from pantau_triage.nlp.rules import RuleSet  # noqa: E402

BATCH = 512
_SUBJECTS = [
    "pak kades",
    "ASN",
    "caleg",
    "paslon 02",
    "Jokowi",
    "Prabowo",
    "KPU",
    "Bawaslu",
    "warga",
    "tim sukses",
    "USER",
    "gw",
    "lu",
    "pendukungnya",
]
_VERBS = [
    "bagi2 amplop",
    "dukung",
    "nyoblos",
    "bilang",
    "ngasih sembako",
    "ikut kampanye",
    "ga suka sama",
    "mau serbu",
    "pilih",
    "nyebarin hoax soal",
    "ngehina",
    "ketemu",
]
_OBJECTS = [
    "warga desa",
    "nomor urut 1",
    "kantor KPU",
    "orang cina",
    "umat",
    "rezim",
    "tps 05",
    "partai sebelah",
    "kafir",
    "cebong",
    "kampret",
    "emak2",
]
_TAILS = [
    "bangeeet!!!",
    "URL",
    "wkwkwk",
    "goblok",
    "anjir",
    "s4ya ga percaya",
    "\\xf0\\x9f\\x98\\x82",
    "#2019GantiPresiden",
    "serangan fajar 50rb",
    "katanya sih",
    "",
    "mantap",
    "astaga",
]


def synthetic_corpus(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    return [
        " ".join(
            rng.choice(part)
            for part in (_SUBJECTS, _VERBS, _OBJECTS, _TAILS, _SUBJECTS, _VERBS, _OBJECTS, _TAILS)
        )
        for _ in range(n)
    ]


def read_texts(path: Path) -> list[str]:
    with path.open(encoding="utf-8", newline="") as handle:
        return [row["Tweet"] for row in csv.DictReader(handle)]


def measure(name: str, run: Callable[[Sequence[str]], object], texts: list[str], repeat: int) -> float:
    """Best of `repeat` runs in batches of BATCH; returns texts/s (peak memory printed)."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for i in range(0, len(texts), BATCH):
            run(texts[i : i + BATCH])
        best = min(best, time.perf_counter() - started)
    tracemalloc.start()
    run(texts[:BATCH])
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    rate = len(texts) / best
    print(f"{name:<34}{rate:>12,.0f} texts/s   peak {peak / 1e6:6.1f} MB per {BATCH}-batch")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    texts = read_texts(args.data) if args.data else synthetic_corpus(10_000)
    print(
        f"{len(texts)} texts ({'from ' + str(args.data) if args.data else 'synthetic'}), "
        f"1 thread, batches of {BATCH}"
    )

    started = time.perf_counter()
    classifier = ContentClassifier.load()
    rules = RuleSet.load()
    print(f"load model + lexicons: {time.perf_counter() - started:.2f}s")

    # Baseline: what a first attempt would ship, fitted on the same texts it then scores.
    # Labels are made up (is any abusive-looking token present), only speed is compared.
    baseline_targets = np.array(
        [[("goblok" in t) or ("anjir" in t), "kafir" in t, "amplop" in t] for t in texts], int
    )
    for j in range(baseline_targets.shape[1]):
        baseline_targets[:2, j] = [0, 1]
    vectoriser = TfidfVectorizer(sublinear_tf=True).fit(texts)
    baseline = OneVsRestClassifier(LogisticRegression(max_iter=500)).fit(
        vectoriser.transform(texts), baseline_targets
    )

    measure("normalise", lambda b: [normalise(t) for t in b], texts, args.repeat)
    normalised = [normalise(t) for t in texts]
    measure("rules.match (normalised input)", lambda b: [rules.match(t) for t in b], normalised, args.repeat)
    ours = measure("ContentClassifier.predict", classifier.predict, texts, args.repeat)
    full = measure(
        "predict + rules",
        lambda b: [rules.match(p.normalised) for p in classifier.predict(b)],
        texts,
        args.repeat,
    )
    base = measure(
        "baseline TF-IDF+LR predict_proba",
        lambda b: baseline.predict_proba(vectoriser.transform(b)),
        texts,
        args.repeat,
    )
    print(f"\nratio ours/baseline: predict {ours / base:.2f}x, predict+rules {full / base:.2f}x")
    print(
        "(the baseline uses word unigrams only and no normalisation; ours adds normalisation "
        "and 113k char n-gram features)"
    )


if __name__ == "__main__":
    main()
