"""Train the packaged content classifier from Ibrohim & Budi (2019) train.csv.

    python services/triage/scripts/train_classifier.py \
        --data /path/to/ibrohim2019/train.csv \
        --out services/triage/src/pantau_triage/nlp/data [--folds 5]

Method (chosen by 5-fold CV, see MODEL_CARD.md): normalised text -> sublinear TF-IDF over
word 1-2-grams and byte 2-5-grams -> one NB-SVM per label (LinearSVC on features scaled by
the naive-Bayes log-count ratio, class_weight="balanced") -> Platt scaling and a per-label
threshold, both fitted on out-of-fold scores. The NB scaling is folded into the weights, so
the exported model is a single linear map.

Writes classifier.npz, classifier.json and kamusalay.tsv (built from new_kamusalay.csv beside
train.csv) into --out. Deterministic: fixed fold seed, and LinearSVC is seeded.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold
from sklearn.svm import LinearSVC

from pantau_triage.nlp.classifier import FORMAT_VERSION, LABELS, METADATA_FILENAME, MODEL_FILENAME
from pantau_triage.nlp.features import FeatureSpec, Vectoriser
from pantau_triage.nlp.metrics import LabelScores, label_scores
from pantau_triage.nlp.normalise import KAMUS_FILENAME, Normaliser

SEED = 20190801
SVM_C = 0.5
MIN_DF = 2
FEATURES = FeatureSpec(word_ngram_max=2, char_ngram_min=2, char_ngram_max=5)
# train.csv spells the labels "HS", "Abusive", "HS_Individual", ...
CSV_COLUMNS = {lb: "HS" if lb == "hs" else lb.title().replace("Hs_", "HS_") for lb in LABELS}


def build_kamus(source: Path, destination: Path) -> None:
    """Clean new_kamusalay.csv (Latin-1, CRLF, some mojibake) into a UTF-8 TSV."""
    mapping: dict[str, str] = {}
    with source.open(encoding="latin-1", newline="") as handle:
        for slang, standard in csv.reader(handle):
            slang = slang.strip().lower()
            standard = " ".join(re.sub(r"[^a-z0-9 ]", " ", standard.lower()).split())
            # Multi-word or non-ASCII keys can never equal a single normalised token.
            if re.fullmatch(r"[a-z0-9]+", slang) and standard and slang != standard:
                mapping.setdefault(slang, standard)
    lines = [
        "# Derived from new_kamusalay.csv, Ibrohim & Budi (2019), CC BY-NC-SA 4.0; see NOTICE.md",
        *(f"{slang}\t{standard}" for slang, standard in sorted(mapping.items())),
    ]
    destination.write_text("\n".join(lines) + "\n", encoding="utf-8")


def read_labelled_csv(path: Path) -> tuple[list[str], np.ndarray]:
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    texts = [row["Tweet"] for row in rows]
    targets = np.array([[int(row[CSV_COLUMNS[lb]]) for lb in LABELS] for row in rows], np.int8)
    return texts, targets


def fit_label(features: sp.csr_matrix, target: np.ndarray) -> tuple[np.ndarray, float]:
    """NB-SVM for one label, returned as (weights, intercept) on the unscaled features."""
    positive = np.asarray(features[target == 1].sum(axis=0)).ravel() + 1
    negative = np.asarray(features[target == 0].sum(axis=0)).ravel() + 1
    ratio = np.log((positive / positive.sum()) / (negative / negative.sum())).astype(np.float32)
    svm = LinearSVC(C=SVM_C, class_weight="balanced", random_state=SEED, max_iter=5000)
    svm.fit(features @ sp.diags(ratio), target)
    return (svm.coef_.ravel() * ratio).astype(np.float32), float(svm.intercept_[0])


def fit_all(texts: list[str], targets: np.ndarray) -> tuple[Vectoriser, np.ndarray, np.ndarray]:
    vectoriser = Vectoriser.fit(texts, FEATURES, min_df=MIN_DF)
    features = vectoriser.transform(texts)
    fitted = [fit_label(features, targets[:, j]) for j in range(len(LABELS))]
    weights = np.stack([w for w, _ in fitted], axis=1)
    intercepts = np.array([b for _, b in fitted], dtype=np.float32)
    return vectoriser, weights, intercepts


def out_of_fold_decisions(texts: list[str], targets: np.ndarray, folds: int) -> tuple:
    decisions = np.zeros(targets.shape, dtype=np.float64)
    fold_of = np.zeros(len(texts), dtype=np.int64)
    splitter = KFold(n_splits=folds, shuffle=True, random_state=SEED)
    for k, (train, test) in enumerate(splitter.split(texts)):
        started = time.perf_counter()
        vectoriser, weights, intercepts = fit_all([texts[i] for i in train], targets[train])
        decisions[test] = vectoriser.transform([texts[i] for i in test]) @ weights + intercepts
        fold_of[test] = k
        print(f"fold {k + 1}/{folds} done in {time.perf_counter() - started:.0f}s", flush=True)
    return decisions, fold_of


def fit_platt(decision: np.ndarray, target: np.ndarray) -> tuple[float, float]:
    model = LogisticRegression(C=1e4).fit(decision.reshape(-1, 1), target)
    return float(model.coef_[0, 0]), float(model.intercept_[0])


def best_threshold(probability: np.ndarray, target: np.ndarray) -> float:
    candidates = np.unique(np.round(probability, 3))
    candidates = candidates[(candidates > 0.05) & (candidates < 0.95)]
    f1 = [label_scores(target, probability >= t).f1 for t in candidates]
    return float(candidates[int(np.argmax(f1))]) if len(candidates) else 0.5


def cross_fitted_predictions(decisions: np.ndarray, targets: np.ndarray, fold_of: np.ndarray) -> np.ndarray:
    """Labels for fold k from calibration + thresholds tuned on the other folds only."""
    predicted = np.zeros(targets.shape, dtype=bool)
    for k in np.unique(fold_of):
        here, elsewhere = fold_of == k, fold_of != k
        for j in range(targets.shape[1]):
            slope, offset = fit_platt(decisions[elsewhere, j], targets[elsewhere, j])
            tuned = best_threshold(_sigmoid(decisions[elsewhere, j] * slope + offset), targets[elsewhere, j])
            predicted[here, j] = _sigmoid(decisions[here, j] * slope + offset) >= tuned
    return predicted


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-np.clip(x, -50, 50)))


def print_table(title: str, scores: dict[str, LabelScores]) -> None:
    print(f"\n{title}\n{'label':<15}{'precision':>10}{'recall':>10}{'f1':>8}{'support':>9}")
    for label, s in scores.items():
        print(f"{label:<15}{s.precision:>10.3f}{s.recall:>10.3f}{s.f1:>8.3f}{s.support:>9d}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="train.csv")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    build_kamus(args.data.with_name("new_kamusalay.csv"), args.out / KAMUS_FILENAME)
    normaliser = Normaliser.from_file(args.out / KAMUS_FILENAME)
    raw_texts, targets = read_labelled_csv(args.data)
    texts = [normaliser(t) for t in raw_texts]
    print(f"{len(texts)} texts, {args.folds}-fold CV, seed {SEED}", flush=True)

    decisions, fold_of = out_of_fold_decisions(texts, targets, args.folds)
    at_zero = {lb: label_scores(targets[:, j], decisions[:, j] > 0) for j, lb in enumerate(LABELS)}
    tuned_predictions = cross_fitted_predictions(decisions, targets, fold_of)
    tuned = {lb: label_scores(targets[:, j], tuned_predictions[:, j]) for j, lb in enumerate(LABELS)}
    print_table("CV, SVM decision > 0", at_zero)
    print_table("CV, calibrated + threshold tuned on the other folds (shipped setting)", tuned)

    calibration = np.array(
        [fit_platt(decisions[:, j], targets[:, j]) for j in range(len(LABELS))], np.float32
    )
    thresholds = {
        lb: best_threshold(_sigmoid(decisions[:, j] * calibration[j, 0] + calibration[j, 1]), targets[:, j])
        for j, lb in enumerate(LABELS)
    }
    vectoriser, weights, intercepts = fit_all(texts, targets)
    np.savez_compressed(
        args.out / MODEL_FILENAME,
        words=np.frombuffer("\n".join(vectoriser.words).encode("utf-8"), dtype=np.uint8),
        word_idf=vectoriser.word_idf,
        char_hashes=vectoriser.char_hashes,
        char_idf=vectoriser.char_idf,
        weights=weights.astype(np.float16),
        intercepts=intercepts,
        calibration=calibration,
    )
    metadata = {
        "format_version": FORMAT_VERSION,
        "labels": list(LABELS),
        "features": {
            "word_ngram_max": FEATURES.word_ngram_max,
            "char_ngram_min": FEATURES.char_ngram_min,
            "char_ngram_max": FEATURES.char_ngram_max,
        },
        "thresholds": thresholds,
        "method": f"TF-IDF word 1-2 + byte 2-5 grams (min_df {MIN_DF}), NB-SVM C={SVM_C}, "
        "class_weight=balanced, Platt scaling + per-label F1 threshold on OOF scores",
        "training_data": "Ibrohim & Budi (2019) train.csv, 10,609 tweets; CC BY-NC-SA 4.0",
        "licence": "CC-BY-NC-SA-4.0",
        "seed": SEED,
        "cv_folds": args.folds,
        "cv_tuned": {lb: s.as_dict() for lb, s in tuned.items()},
        "cv_decision_zero": {lb: s.as_dict() for lb, s in at_zero.items()},
        "n_word_features": len(vectoriser.words),
        "n_char_features": len(vectoriser.char_hashes),
    }
    (args.out / METADATA_FILENAME).write_text(json.dumps(metadata, indent=2) + "\n", "utf-8")
    size = (args.out / MODEL_FILENAME).stat().st_size
    print(f"\nwrote {args.out / MODEL_FILENAME} ({size / 1e6:.1f} MB) and {METADATA_FILENAME}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
