"""Per-label precision / recall / F1, shared by the training script and `evaluate`."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["LabelScores", "label_scores"]


@dataclass(frozen=True, slots=True)
class LabelScores:
    precision: float
    recall: float
    f1: float
    support: int

    def as_dict(self) -> dict[str, float | int]:
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(self).items()}


def label_scores(truth: np.ndarray, predicted: np.ndarray) -> LabelScores:
    """Binary scores for one label; 0 (not NaN) when a denominator is empty."""
    truth = np.asarray(truth).astype(bool)
    predicted = np.asarray(predicted).astype(bool)
    true_positive = int(np.sum(truth & predicted))
    predicted_positive = int(predicted.sum())
    support = int(truth.sum())
    precision = true_positive / predicted_positive if predicted_positive else 0.0
    recall = true_positive / support if support else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return LabelScores(precision, recall, f1, support)
