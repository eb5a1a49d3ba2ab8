"""The classifier's speed-ups change no prediction: the packaged model's scores and labels, and
triage's categories with their reasons (model and rule lexicons), on a fixed sample recorded
before the lookups were rewritten, are reproduced exactly.

The sample is built from the model's own vocabulary (its words and word pairs) and the rule
lexicons' phrases, seeded, so every kind of feature and rule fires, plus slang, repeated
letters, digits, URLs and mentions for the normaliser. After retraining the model or editing a
lexicon, record the sample again:
`.venv/bin/python -m tests.unit.triage.nlp.test_nlp_identical_predictions`."""

import json
import random
import tomllib
from importlib import resources
from pathlib import Path

import pytest

from pantau_triage.classify import TriageClassifier
from pantau_triage.nlp.classifier import ContentClassifier
from pantau_triage.nlp.rules import RuleSet

RECORDED = Path(__file__).with_name("recorded_predictions.json")
NOISE = (
    "gw lu bagi2 bangeeet!!! s4ya 50rb @budi https://t.co/x emak2 wkwkwk [QUOTE=agan;5a50]gan[/QUOTE]"
    " &amp; \\xf0\\x9f RT USER URL 2019gantipresiden ga"
).split()
BATCH = 64  # as triage hands them over


def lexicon_phrases() -> list[str]:
    found: list[str] = []

    def collect(value: object) -> None:
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, list):
            for item in value:
                collect(item)

    for path in sorted(resources.files("pantau_triage.nlp").joinpath("lexicons").iterdir()):
        if path.name.endswith(".toml"):
            for rule in tomllib.loads(path.read_text(encoding="utf-8"))["rules"]:
                collect(rule.get("any", []))
                collect(rule.get("all", []))
                collect(rule.get("unless", []))
    return found


def sample(model: ContentClassifier) -> list[str]:
    rng = random.Random(8)
    words, phrases = model.vectoriser.words, lexicon_phrases()
    texts = []
    for n in range(300):
        pool = words if n % 2 else phrases
        grams = [rng.choice(pool) for _ in range(rng.randint(1, 12))]
        grams += [rng.choice(words) for _ in range(rng.randint(0, 4))]
        grams += [rng.choice(NOISE) for _ in range(rng.randint(0, 3))]
        rng.shuffle(grams)
        texts.append(" ".join(grams))
    return [*texts, "", "   ", "a", "Dasar bangsat goblok lu, anjing!"]


def outputs(model: ContentClassifier, texts: list[str]) -> list[dict[str, object]]:
    triage = TriageClassifier(model, RuleSet.load())
    found = []
    for start in range(0, len(texts), BATCH):
        batch = texts[start : start + BATCH]
        filled = [t for t in batch if t.strip()]
        predicted = iter(model.predict(filled))
        for text, classified in zip(batch, triage.classify_many(batch), strict=True):
            p = next(predicted) if text.strip() else None
            found.append(
                {
                    "normalised": p.normalised if p else None,
                    "labels": sorted(p.labels) if p else [],
                    "scores": {label: round(s, 7) for label, s in p.scores.items()} if p else {},
                    "categories": [c.model_dump(mode="json") for c in classified.categories],
                    "cues": list(classified.campaign_cues),
                }
            )
    return found


@pytest.fixture(scope="module")
def model() -> ContentClassifier:
    return ContentClassifier.load()


def test_the_recorded_predictions_are_reproduced(model: ContentClassifier) -> None:
    recorded = json.loads(RECORDED.read_text())
    texts = sample(model)
    assert recorded["texts"] == texts
    now = outputs(model, texts)
    assert len(now) == len(recorded["outputs"])
    for text, got, want in zip(texts, now, recorded["outputs"], strict=True):
        assert got["normalised"] == want["normalised"], text
        assert got["labels"] == want["labels"], text
        assert got["scores"] == pytest.approx(want["scores"], abs=1e-6), text
        assert got["cues"] == want["cues"], text
        assert [(c["category"], c["reason"]) for c in got["categories"]] == [
            (c["category"], c["reason"]) for c in want["categories"]
        ], text
        for c, w in zip(got["categories"], want["categories"], strict=True):
            assert c["score"] == pytest.approx(w["score"], abs=1e-3), text  # rounded to 3 places
    # The sample exercises the labels and the rules, not only their absence.
    assert sum(bool(w["labels"]) for w in recorded["outputs"]) >= 50
    rule_reasons = {c["reason"] for w in recorded["outputs"] for c in w["categories"]}
    assert len([r for r in rule_reasons if not r.startswith("Model ")]) >= 10


if __name__ == "__main__":
    packaged = ContentClassifier.load()
    texts = sample(packaged)
    body = {"texts": texts, "outputs": outputs(packaged, texts)}
    RECORDED.write_text(json.dumps(body, separators=(",", ":"), ensure_ascii=False) + "\n")
