"""Multi-label hate-speech / abusive-language classifier (inference only).

The model is two files written by ``scripts/train_classifier.py``: ``classifier.npz``
(vocabulary, idf, weights; loaded with ``allow_pickle=False``) and ``classifier.json``
(labels, feature settings, calibration, thresholds, provenance). A ``kamusalay.tsv`` next
to them, if present, overrides the packaged slang dictionary so a model is always read with
the normalisation it was trained with.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
from scipy.special import expit

from pantau_triage.nlp.features import FeatureSpec, Vectoriser
from pantau_triage.nlp.normalise import KAMUS_FILENAME, Normaliser, default_normaliser

__all__ = ["LABELS", "ContentClassifier", "Prediction"]

LABELS = (
    "hs",
    "abusive",
    "hs_individual",
    "hs_group",
    "hs_religion",
    "hs_race",
    "hs_physical",
    "hs_gender",
    "hs_other",
    "sara",
    "pencemaran_nama_baik",
)
MODEL_FILENAME = "classifier.npz"
METADATA_FILENAME = "classifier.json"
FORMAT_VERSION = 1


@dataclass(frozen=True, slots=True)
class Prediction:
    normalised: str
    scores: dict[str, float]
    labels: frozenset[str]


class ContentClassifier:
    def __init__(
        self,
        normaliser: Normaliser,
        vectoriser: Vectoriser,
        weights: np.ndarray,
        intercepts: np.ndarray,
        calibration: np.ndarray,
        thresholds: np.ndarray,
        labels: Sequence[str],
    ) -> None:
        self._normaliser = normaliser
        self._vectoriser = vectoriser
        self._weights = np.ascontiguousarray(weights, dtype=np.float32)
        self._intercepts = np.asarray(intercepts, dtype=np.float32)
        # Platt scaling: probability = sigmoid(slope * decision + offset), one pair per label.
        self._slopes = np.asarray(calibration[:, 0], dtype=np.float32)
        self._offsets = np.asarray(calibration[:, 1], dtype=np.float32)
        self._thresholds = np.asarray(thresholds, dtype=np.float32)
        self.labels = tuple(labels)

    @classmethod
    def load(cls, path: Path | None = None) -> ContentClassifier:
        """Load ``classifier.npz`` (+ its ``classifier.json``); default: the packaged model."""
        if path is None:
            resource = resources.files("pantau_triage.nlp").joinpath("data", MODEL_FILENAME)
            with resources.as_file(resource) as packaged:
                return cls.load(packaged)
        metadata = json.loads(path.with_name(METADATA_FILENAME).read_text(encoding="utf-8"))
        if metadata.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"{path}: unsupported model format {metadata.get('format_version')}")
        kamus_path = path.with_name(KAMUS_FILENAME)
        normaliser = Normaliser.from_file(kamus_path) if kamus_path.exists() else default_normaliser()
        with np.load(path, allow_pickle=False) as arrays:
            words = bytes(arrays["words"]).decode("utf-8").split("\n")
            vectoriser = Vectoriser(
                FeatureSpec(**metadata["features"]),
                words,
                arrays["word_idf"],
                arrays["char_hashes"],
                arrays["char_idf"],
            )
            weights = arrays["weights"].astype(np.float32)
            # Weights are stored in the vocabulary order given above; the vectoriser sorts
            # its char hashes, so the char rows are permuted the same way.
            n_words = len(words)
            weights = np.concatenate([weights[:n_words], weights[n_words:][vectoriser.char_order]])
            return cls(
                normaliser=normaliser,
                vectoriser=vectoriser,
                weights=weights,
                intercepts=arrays["intercepts"],
                calibration=arrays["calibration"],
                thresholds=np.array([metadata["thresholds"][lb] for lb in metadata["labels"]]),
                labels=metadata["labels"],
            )

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        """Score a batch; a label is set when its score reaches the label's tuned threshold."""
        normalised = [self._normaliser(text) for text in texts]
        probabilities = self.predict_normalised(normalised)
        passed = (probabilities >= self._thresholds).tolist()
        return [
            Prediction(
                normalised=text,
                scores=dict(zip(self.labels, row, strict=True)),
                labels=frozenset(label for label, on in zip(self.labels, hits, strict=True) if on),
            )
            # As Python floats and bools in one call each, not one numpy scalar at a time.
            for text, row, hits in zip(normalised, probabilities.tolist(), passed, strict=True)
        ]

    def predict_normalised(self, normalised: Sequence[str]) -> np.ndarray:
        """Probabilities (texts x labels) for already-normalised texts."""
        if not normalised:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        features = self._vectoriser.transform(normalised)
        decision = features @ self._weights + self._intercepts
        probabilities: np.ndarray = expit(decision * self._slopes + self._offsets)
        return probabilities

    @property
    def vectoriser(self) -> Vectoriser:
        return self._vectoriser

    @property
    def thresholds(self) -> dict[str, float]:
        return {label: float(t) for label, t in zip(self.labels, self._thresholds, strict=True)}
