"""The triage classifier: quality across sources and platforms, then size, load time and speed.

    .venv/bin/python bench/classifier.py [--ibrohim ibrohim2019/train.csv]
        [--netifier netifier2018/train.csv] [--folds 3] [--repeat 3]

With both corpora: per-label F1 of three systems trained in this run on the same rows.
- current: the recipe of the model shipped before (Ibrohim & Budi tweets only, its 9 labels;
  SARA read as hs and (hs_religion or hs_race), as triage did);
- new: the shipped recipe on the experiment's training rows, with its own sara and
  pencemaran_nama_baik heads (`pantau_triage.nlp.training`, label mapping in `corpora`);
- baseline: scikit-learn TfidfVectorizer (word 1-2-grams, sublinear, min_df 2, raw text) and one
  LogisticRegression(class_weight="balanced") per label, threshold 0.5, same label mapping.
Experiments: across sources (train on one corpus, test on all of the other, both ways) and
held out (a seeded 20% of each corpus, per platform for Netifier; train on the other 80%).
Then the packaged model beside the current one and the baseline: file size, load time,
latency of one text (p50/p99), texts/s in batches of 512 on ONE core, peak memory.
Without the corpora only the speed part runs, on a synthetic corpus.
"""

from __future__ import annotations

import os

# Pin BLAS/OpenMP to one thread before numpy is imported; that is the point of this bench.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import pickle  # noqa: E402
import random  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from importlib import resources  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

from pantau_triage.nlp.classifier import LABELS, ContentClassifier  # noqa: E402
from pantau_triage.nlp.corpora import Corpus, read_ibrohim, read_netifier  # noqa: E402
from pantau_triage.nlp.metrics import label_scores  # noqa: E402
from pantau_triage.nlp.normalise import default_normaliser, normalise  # noqa: E402
from pantau_triage.nlp.rules import RuleSet  # noqa: E402
from pantau_triage.nlp.training import SEED, Recipe, TrainedModel, train  # noqa: E402

BATCH = 512
HELD_OUT = 0.2
CURRENT_LABELS = LABELS[:9]  # the model shipped before had Ibrohim's labels only
_WORDS = (
    "pak kades ASN caleg paslon 02 Jokowi Prabowo KPU Bawaslu warga USER gw lu bagi2 amplop dukung "
    "nyoblos ngasih sembako kampanye ga suka mau serbu pilih nyebarin hoax ngehina orang cina umat "
    "rezim tps 05 kafir cebong kampret emak2 bangeeet!!! URL wkwkwk goblok anjir s4ya percaya "
    "#2019GantiPresiden serangan fajar 50rb katanya mantap astaga [QUOTE=agan;5a50]gan[/QUOTE]"
).split()


def synthetic_corpus(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choices(_WORDS, k=rng.randint(8, 30))) for _ in range(n)]


def split(corpus: Corpus) -> tuple[Corpus, Corpus]:
    """A seeded HELD_OUT share of each platform of the corpus, and the rest."""
    rng = np.random.default_rng(SEED)
    test: list[int] = []
    for source in sorted(set(corpus.sources)):
        rows = np.array([i for i, s in enumerate(corpus.sources) if s == source])
        test.extend(rng.permutation(rows)[: round(len(rows) * HELD_OUT)].tolist())
    train_rows = sorted(set(range(len(corpus))) - set(test))
    return corpus.subset(train_rows, f"{corpus.name} 80%"), corpus.subset(sorted(test), f"{corpus.name} 20%")


def annotated(corpus: Corpus, labels: Sequence[str]) -> list[str]:
    """Labels with both classes among the rows that annotate them."""
    return [lb for lb in labels if {0, 1} <= set(corpus.targets[:, LABELS.index(lb)].tolist())]


def fit_ours(corpus: Corpus, labels: Sequence[str], folds: int) -> TrainedModel:
    normaliser = default_normaliser()
    started = time.perf_counter()
    columns = [LABELS.index(lb) for lb in labels]
    texts = [normaliser(t) for t in corpus.texts]
    model = train(texts, corpus.targets[:, columns], labels, Recipe(folds=folds), log=lambda _: None)
    took = time.perf_counter() - started
    print(f"  fitted {len(labels)} labels on {corpus.name} ({len(corpus)} texts) in {took:.0f}s", flush=True)
    return model


def loaded(model: TrainedModel, out: Path) -> ContentClassifier:
    """Through the files, as triage reads the packaged model."""
    return ContentClassifier.load(model.save(out, {}))


@dataclass(frozen=True)
class System:
    predict: Callable[[Sequence[str]], np.ndarray]  # raw texts -> bool, rows x LABELS
    labels: frozenset[str]  # what it was trained to predict


def ours(classifier: ContentClassifier, derive_sara: bool) -> System:
    def predict(texts: Sequence[str]) -> np.ndarray:
        found = np.zeros((len(texts), len(LABELS)), dtype=bool)
        for i, prediction in enumerate(classifier.predict(texts)):
            labels = set(prediction.labels)
            if derive_sara and "hs" in labels and labels & {"hs_religion", "hs_race"}:
                labels.add("sara")
            found[i] = [lb in labels for lb in LABELS]
        return found

    labels = set(classifier.labels)
    if derive_sara and {"hs", "hs_religion", "hs_race"} <= labels:
        labels.add("sara")
    return System(predict, frozenset(labels))


def baseline(corpus: Corpus) -> System:
    vectoriser = TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=2)
    features = vectoriser.fit_transform(corpus.texts)
    heads = {}
    for lb in annotated(corpus, LABELS):
        j = LABELS.index(lb)
        known = np.flatnonzero(corpus.targets[:, j] >= 0)
        heads[j] = LogisticRegression(class_weight="balanced", max_iter=2000).fit(
            features[known], corpus.targets[known, j]
        )

    def predict(texts: Sequence[str]) -> np.ndarray:
        found = np.zeros((len(texts), len(LABELS)), dtype=bool)
        matrix = vectoriser.transform(texts)
        for j, head in heads.items():
            found[:, j] = head.predict_proba(matrix)[:, 1] >= 0.5
        return found

    return System(predict, frozenset(LABELS[j] for j in heads))


def report(test: Corpus, systems: dict[str, System | None]) -> None:
    predicted = {name: (system, system.predict(test.texts)) for name, system in systems.items() if system}
    print(f"\n{test.name} ({len(test)} texts): F1 per label")
    print(f"{'label':<22}{'support':>8}" + "".join(f"{name:>10}" for name in systems))
    for j, lb in enumerate(LABELS):
        known = test.targets[:, j] >= 0
        truth = test.targets[known, j]
        if not truth.any():
            continue
        cells = [
            f"{label_scores(truth, predicted[name][1][known, j]).f1:>10.3f}"
            if name in predicted and lb in predicted[name][0].labels
            else f"{'-':>10}"
            for name in systems
        ]
        print(f"{lb:<22}{int(truth.sum()):>8}" + "".join(cells), flush=True)


def per_platform(corpus: Corpus) -> list[Corpus]:
    return [corpus, *(corpus.where_source(s) for s in ("twitter", "instagram", "kaskus"))]


def quality(ibrohim: Corpus, netifier: Corpus, folds: int, work: Path) -> None:
    """The experiments; leaves the current recipe trained on all of Ibrohim in work/current."""
    print(f"\n== quality ({folds}-fold OOF calibration and thresholds, seed {SEED})", flush=True)
    print("\n-- across sources: Ibrohim (all) -> Netifier (all), per platform")
    # Labels are fitted independently, so the current recipe is the same fit without sara.
    fitted = fit_ours(ibrohim, annotated(ibrohim, LABELS), folds)
    systems: dict[str, System | None] = {
        "current": ours(loaded(fitted.only(CURRENT_LABELS), work / "current"), True),
        "new": ours(loaded(fitted, work / "i-new"), False),
        "baseline": baseline(ibrohim),
    }
    for test in per_platform(netifier):
        report(test, systems)

    print("\n-- across sources: Netifier (all) -> Ibrohim (all); the current recipe has no sara label")
    systems = {
        "current": None,
        "new": ours(loaded(fit_ours(netifier, annotated(netifier, LABELS), folds), work / "n-new"), False),
        "baseline": baseline(netifier),
    }
    report(ibrohim, systems)

    print("\n-- held out: train on 80% of each corpus, test on the other 20% of each")
    i_train, i_test = split(ibrohim)
    n_train, n_test = split(netifier)
    both = Corpus.concat("both 80%", [i_train, n_train])
    systems = {
        "current": ours(loaded(fit_ours(i_train, CURRENT_LABELS, folds), work / "h-current"), True),
        "new": ours(loaded(fit_ours(both, LABELS, folds), work / "h-new"), False),
        "baseline": baseline(both),
    }
    for test in [i_test, *per_platform(n_test)]:
        report(test, systems)


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
    print(f"{name:<40}{rate:>10,.0f} texts/s   peak {peak / 1e6:6.1f} MB per {BATCH}-batch")
    return rate


def latency(name: str, run: Callable[[Sequence[str]], object], texts: list[str]) -> None:
    timings = []
    for text in texts[:2000]:
        started = time.perf_counter()
        run([text])
        timings.append(time.perf_counter() - started)
    p50, p99 = np.percentile(timings, [50, 99]) * 1000
    print(f"{name:<40}one text: p50 {p50:.2f} ms, p99 {p99:.2f} ms")


def load_time(path: Path | None) -> float:
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        ContentClassifier.load(path)
        best = min(best, time.perf_counter() - started)
    return best


def speed(texts: list[str], current_dir: Path | None, repeat: int) -> None:
    print(f"\n== size and speed: {len(texts)} texts, 1 thread, batches of {BATCH}")
    packaged = ContentClassifier.load()
    rules = RuleSet.load()
    models: list[tuple[str, Path | None]] = [("new (packaged)", None)]
    if current_dir is not None:
        models.append(("current", current_dir / "classifier.npz"))
    for name, path in models:
        shown = path or Path(str(resources.files("pantau_triage.nlp").joinpath("data", "classifier.npz")))
        print(f"{name:<40}file {shown.stat().st_size / 1e6:.1f} MB, load {load_time(path):.2f} s")
    # The baseline as a first attempt would ship it: pickled, fitted on the texts it then scores.
    targets = np.array([[("goblok" in t) or ("anjir" in t), "kafir" in t] for t in texts], int)
    targets[:2] = [[0, 0], [1, 1]]
    vectoriser = TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=2).fit(texts)
    heads = [LogisticRegression(max_iter=500).fit(vectoriser.transform(texts), targets[:, j]) for j in (0, 1)]
    blob = pickle.dumps((vectoriser, heads))
    started = time.perf_counter()
    pickle.loads(blob)
    print(
        f"{'baseline (pickled sklearn)':<40}file {len(blob) / 1e6:.1f} MB, "
        f"load {time.perf_counter() - started:.2f} s"
    )

    def baseline(batch: Sequence[str]) -> object:
        features = vectoriser.transform(batch)
        return [head.predict_proba(features) for head in heads]

    measure("normalise", lambda b: [normalise(t) for t in b], texts, repeat)
    normalised = [normalise(t) for t in texts]
    measure("rules.match (normalised input)", lambda b: [rules.match(t) for t in b], normalised, repeat)
    ours = measure("new: ContentClassifier.predict", packaged.predict, texts, repeat)
    if current_dir is not None:
        current = ContentClassifier.load(current_dir / "classifier.npz")
        measure("current: ContentClassifier.predict", current.predict, texts, repeat)
    full = measure(
        "new: predict + rules",
        lambda b: [rules.match(p.normalised) for p in packaged.predict(b)],
        texts,
        repeat,
    )
    base = measure("baseline TF-IDF+LR predict_proba", baseline, texts, repeat)
    latency("new: ContentClassifier.predict", packaged.predict, texts)
    if current_dir is not None:
        latency("current: ContentClassifier.predict", current.predict, texts)
    latency("baseline TF-IDF+LR predict_proba", baseline, texts)
    print(f"\nratio new/baseline: predict {ours / base:.2f}x, predict+rules {full / base:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--ibrohim", type=Path, default=None, help="ibrohim2019/train.csv")
    parser.add_argument("--netifier", type=Path, default=None, help="netifier2018/train.csv")
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--speed-only",
        action="store_true",
        help="with the corpora: skip the quality part (one fit of current)",
    )
    parser.add_argument("--limit", type=int, default=None, help="first N rows of each corpus (a quick try)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pantau-classifier-bench-") as work:
        if args.ibrohim and args.netifier:
            ibrohim, netifier = read_ibrohim(args.ibrohim), read_netifier(args.netifier)
            if args.limit:
                ibrohim, netifier = (c.subset(range(min(args.limit, len(c)))) for c in (ibrohim, netifier))
            if args.speed_only:
                fitted = fit_ours(ibrohim, CURRENT_LABELS, args.folds)
                fitted.save(Path(work) / "current", {})
            else:
                quality(ibrohim, netifier, args.folds, Path(work))
            texts = ibrohim.texts + netifier.texts
            speed(texts, Path(work) / "current", args.repeat)
        else:
            speed(synthetic_corpus(10_000), None, args.repeat)


if __name__ == "__main__":
    main()
