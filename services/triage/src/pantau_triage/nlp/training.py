"""The classifier's training recipe, shared by ``scripts/train_classifier.py`` and the bench.

Normalised text -> sublinear TF-IDF over word 1-2-grams and byte 2-5-grams -> one NB-SVM per
label (LinearSVC on features scaled by the naive-Bayes log-count ratio,
class_weight="balanced") -> Platt scaling and a per-label threshold, both fitted on
out-of-fold scores. The NB scaling is folded into the weights, so the model is one linear map.
A label is fitted on the rows whose corpus annotates it (targets >= 0); see ``corpora``.
Deterministic: fixed fold seed, and LinearSVC is seeded.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold
from sklearn.svm import LinearSVC

from pantau_triage.nlp.classifier import FORMAT_VERSION, METADATA_FILENAME, MODEL_FILENAME
from pantau_triage.nlp.features import FeatureSpec, Vectoriser
from pantau_triage.nlp.metrics import LabelScores, label_scores

__all__ = ["FEATURES", "SEED", "Recipe", "TrainedModel", "train"]

SEED = 20190801
FEATURES = FeatureSpec(word_ngram_max=2, char_ngram_min=2, char_ngram_max=5)


@dataclass(frozen=True)
class Recipe:
    svm_c: float = 0.5
    min_df: int = 2
    folds: int = 5

    def describe(self) -> str:
        return (
            f"TF-IDF word 1-{FEATURES.word_ngram_max} + byte {FEATURES.char_ngram_min}-"
            f"{FEATURES.char_ngram_max} grams (min_df {self.min_df}), NB-SVM C={self.svm_c}, "
            "class_weight=balanced, Platt scaling + per-label F1 threshold on "
            f"{self.folds}-fold OOF scores; each label fitted on the rows that annotate it"
        )


@dataclass(frozen=True)
class TrainedModel:
    labels: tuple[str, ...]
    vectoriser: Vectoriser
    weights: np.ndarray  # features x labels
    intercepts: np.ndarray
    calibration: np.ndarray  # labels x (slope, offset)
    thresholds: np.ndarray
    # Out-of-fold scores, calibration and threshold tuned on the other folds only.
    cross_validated: dict[str, LabelScores]

    def only(self, labels: Sequence[str]) -> TrainedModel:
        """The same fit restricted to some labels (each label is fitted on its own)."""
        columns = [self.labels.index(lb) for lb in labels]
        return TrainedModel(
            tuple(labels),
            self.vectoriser,
            self.weights[:, columns],
            self.intercepts[columns],
            self.calibration[columns],
            self.thresholds[columns],
            {lb: self.cross_validated[lb] for lb in labels},
        )

    def save(self, out: Path, provenance: dict[str, Any]) -> Path:
        """Write classifier.npz + classifier.json (the format ``ContentClassifier.load`` reads)."""
        out.mkdir(parents=True, exist_ok=True)
        path = out / MODEL_FILENAME
        np.savez_compressed(
            path,
            words=np.frombuffer("\n".join(self.vectoriser.words).encode("utf-8"), dtype=np.uint8),
            word_idf=self.vectoriser.word_idf,
            char_hashes=self.vectoriser.char_hashes,
            char_idf=self.vectoriser.char_idf,
            weights=self.weights.astype(np.float16),
            intercepts=self.intercepts,
            calibration=self.calibration,
        )
        metadata = {
            "format_version": FORMAT_VERSION,
            "labels": list(self.labels),
            "features": {
                "word_ngram_max": FEATURES.word_ngram_max,
                "char_ngram_min": FEATURES.char_ngram_min,
                "char_ngram_max": FEATURES.char_ngram_max,
            },
            "thresholds": {
                lb: round(float(t), 3) for lb, t in zip(self.labels, self.thresholds, strict=True)
            },
            **provenance,
            "cv_tuned": {lb: s.as_dict() for lb, s in self.cross_validated.items()},
            "n_word_features": len(self.vectoriser.words),
            "n_char_features": len(self.vectoriser.char_hashes),
        }
        (out / METADATA_FILENAME).write_text(json.dumps(metadata, indent=2) + "\n", "utf-8")
        return path


def train(
    texts: Sequence[str],
    targets: np.ndarray,
    labels: Sequence[str],
    recipe: Recipe = Recipe(),
    log: Callable[[str], None] = print,
) -> TrainedModel:
    """Fit on normalised texts; targets is rows x labels of 1, 0 or -1 (not annotated)."""
    texts = list(texts)
    decisions = np.zeros(targets.shape, dtype=np.float64)
    fold_of = np.zeros(len(texts), dtype=np.int64)
    splitter = KFold(n_splits=recipe.folds, shuffle=True, random_state=SEED)
    for k, (inside, outside) in enumerate(splitter.split(texts)):
        started = time.perf_counter()
        vectoriser, weights, intercepts = _fit([texts[i] for i in inside], targets[inside], recipe)
        decisions[outside] = vectoriser.transform([texts[i] for i in outside]) @ weights + intercepts
        fold_of[outside] = k
        log(f"  fold {k + 1}/{recipe.folds} in {time.perf_counter() - started:.0f}s")

    calibration = np.zeros((len(labels), 2), dtype=np.float32)
    thresholds = np.zeros(len(labels), dtype=np.float32)
    cross_validated: dict[str, LabelScores] = {}
    for j, label in enumerate(labels):
        known = targets[:, j] >= 0
        decision, target = decisions[known, j], targets[known, j]
        slope, offset = _fit_platt(decision, target)
        calibration[j] = slope, offset
        thresholds[j] = _best_threshold(_sigmoid(decision * slope + offset), target)
        cross_validated[label] = label_scores(target, _cross_fitted(decision, target, fold_of[known]))
    vectoriser, weights, intercepts = _fit(texts, targets, recipe)
    return TrainedModel(
        tuple(labels), vectoriser, weights, intercepts, calibration, thresholds, cross_validated
    )


def _fit(texts: list[str], targets: np.ndarray, recipe: Recipe) -> tuple[Vectoriser, np.ndarray, np.ndarray]:
    vectoriser = Vectoriser.fit(texts, FEATURES, min_df=recipe.min_df)
    features = vectoriser.transform(texts)
    fitted = [_fit_label(features, targets[:, j], recipe) for j in range(targets.shape[1])]
    weights = np.stack([w for w, _ in fitted], axis=1)
    intercepts = np.array([b for _, b in fitted], dtype=np.float32)
    return vectoriser, weights, intercepts


def _fit_label(features: sp.csr_matrix, target: np.ndarray, recipe: Recipe) -> tuple[np.ndarray, float]:
    """NB-SVM for one label on its annotated rows, as (weights, intercept) on unscaled features."""
    known = np.flatnonzero(target >= 0)
    features, target = features[known], target[known]
    positive = np.asarray(features[target == 1].sum(axis=0)).ravel() + 1
    negative = np.asarray(features[target == 0].sum(axis=0)).ravel() + 1
    ratio = np.log((positive / positive.sum()) / (negative / negative.sum())).astype(np.float32)
    svm = LinearSVC(C=recipe.svm_c, class_weight="balanced", random_state=SEED, max_iter=5000)
    svm.fit(features @ sp.diags(ratio), target)
    return (svm.coef_.ravel() * ratio).astype(np.float32), float(svm.intercept_[0])


def _fit_platt(decision: np.ndarray, target: np.ndarray) -> tuple[float, float]:
    model = LogisticRegression(C=1e4).fit(decision.reshape(-1, 1), target)
    return float(model.coef_[0, 0]), float(model.intercept_[0])


def _best_threshold(probability: np.ndarray, target: np.ndarray) -> float:
    candidates = np.unique(np.round(probability, 3))
    candidates = candidates[(candidates > 0.05) & (candidates < 0.95)]
    f1 = [label_scores(target, probability >= t).f1 for t in candidates]
    return float(candidates[int(np.argmax(f1))]) if len(candidates) else 0.5


def _cross_fitted(decision: np.ndarray, target: np.ndarray, fold_of: np.ndarray) -> np.ndarray:
    """Labels for fold k from calibration + threshold tuned on the other folds only."""
    predicted = np.zeros(target.shape, dtype=bool)
    for k in np.unique(fold_of):
        here, elsewhere = fold_of == k, fold_of != k
        slope, offset = _fit_platt(decision[elsewhere], target[elsewhere])
        tuned = _best_threshold(_sigmoid(decision[elsewhere] * slope + offset), target[elsewhere])
        predicted[here] = _sigmoid(decision[here] * slope + offset) >= tuned
    return predicted


def _sigmoid(x: np.ndarray) -> np.ndarray:
    result: np.ndarray = 1 / (1 + np.exp(-np.clip(x, -50, 50)))
    return result
