"""The classifier's speed-ups change no prediction: the packaged model's scores and labels on a
fixed sample, recorded before the vectoriser's lookups were rewritten, are reproduced exactly.

The sample is built from the model's own vocabulary (its words and word pairs, seeded), so every
kind of feature fires, plus slang, repeated letters, digits, URLs and mentions for the
normaliser. After retraining the model, record the sample again:
`.venv/bin/python -m tests.unit.triage.nlp.test_nlp_identical_predictions`."""

import json
import random
from pathlib import Path

import pytest

from pantau_triage.nlp.classifier import ContentClassifier

RECORDED = Path(__file__).with_name("recorded_predictions.json")
NOISE = (
    "gw lu bagi2 bangeeet!!! s4ya 50rb @budi https://t.co/x emak2 wkwkwk [QUOTE=agan;5a50]gan[/QUOTE]"
    " &amp; \\xf0\\x9f RT USER URL 2019gantipresiden ga"
).split()


def sample(classifier: ContentClassifier, count: int = 250) -> list[str]:
    rng = random.Random(8)
    words = classifier.vectoriser.words
    texts = []
    for _ in range(count):
        grams = [rng.choice(words) for _ in range(rng.randint(1, 14))]
        grams += [rng.choice(NOISE) for _ in range(rng.randint(0, 3))]
        rng.shuffle(grams)
        texts.append(" ".join(grams))
    return [*texts, "", "   ", "a", "Dasar bangsat goblok lu, anjing!"]


def predictions(classifier: ContentClassifier, texts: list[str]) -> list[dict[str, object]]:
    batch = 64  # as triage hands them over
    found = [p for i in range(0, len(texts), batch) for p in classifier.predict(texts[i : i + batch])]
    return [
        {
            "normalised": p.normalised,
            "labels": sorted(p.labels),
            "scores": {label: round(score, 7) for label, score in p.scores.items()},
        }
        for p in found
    ]


@pytest.fixture(scope="module")
def classifier() -> ContentClassifier:
    return ContentClassifier.load()


def test_the_recorded_predictions_are_reproduced(classifier: ContentClassifier) -> None:
    recorded = json.loads(RECORDED.read_text())
    texts = sample(classifier)
    assert recorded["texts"] == texts
    now = predictions(classifier, texts)
    assert len(now) == len(recorded["predictions"])
    labelled = 0
    for text, got, want in zip(texts, now, recorded["predictions"], strict=True):
        assert got["normalised"] == want["normalised"], text
        assert got["labels"] == want["labels"], text
        assert got["scores"] == pytest.approx(want["scores"], abs=1e-6), text
        labelled += bool(want["labels"])
    assert labelled >= 20  # the sample exercises the labels, not only their absence


if __name__ == "__main__":
    model = ContentClassifier.load()
    texts = sample(model)
    RECORDED.write_text(
        json.dumps({"texts": texts, "predictions": predictions(model, texts)}, separators=(",", ":")) + "\n"
    )
