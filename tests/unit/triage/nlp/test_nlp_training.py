"""The training recipe on a tiny corpus: labels fitted on their annotated rows only, and the
saved files read back by the classifier triage loads."""

from pathlib import Path

import numpy as np

from pantau_triage.nlp.classifier import ContentClassifier
from pantau_triage.nlp.normalise import normalise
from pantau_triage.nlp.training import Recipe, train

RUDE = ["dasar goblok lu", "bangsat kampret tolol", "goblok banget dasar tolol", "kampret bangsat lu"]
KIND = ["selamat pagi semua", "terima kasih banyak", "semoga sehat selalu", "pagi yang cerah ya"]


def test_a_label_learns_only_from_rows_that_annotate_it(tmp_path: Path) -> None:
    texts = [normalise(t) for t in RUDE * 3 + KIND * 3]
    rude = np.array([1] * 12 + [0] * 12, dtype=np.int8)
    # The second label is annotated on half the rows only; the rest must not count as 0.
    partial = rude.copy()
    partial[::2] = -1
    targets = np.stack([rude, partial], axis=1)
    model = train(texts, targets, ("rude", "partial"), Recipe(folds=3), log=lambda _: None)

    assert model.cross_validated["rude"].support == 12
    assert model.cross_validated["partial"].support == int((partial == 1).sum())
    classifier = ContentClassifier.load(model.save(tmp_path, {"training_data": "test"}))
    assert classifier.labels == ("rude", "partial")
    rude_text, kind_text = classifier.predict(["dasar kampret goblok", "terima kasih, selamat pagi"])
    assert "rude" in rude_text.labels and "partial" in rude_text.labels
    assert kind_text.labels == frozenset()
    only_rude = ContentClassifier.load(model.only(["rude"]).save(tmp_path / "one", {}))
    assert only_rude.labels == ("rude",)
    assert only_rude.predict(["dasar kampret goblok"])[0].scores["rude"] == rude_text.scores["rude"]
