import pytest

from pantau_triage.nlp.classifier import LABELS, ContentClassifier


@pytest.fixture(scope="module")
def classifier() -> ContentClassifier:
    return ContentClassifier.load()


def test_packaged_model_scores_every_label(classifier: ContentClassifier) -> None:
    [prediction] = classifier.predict(["Selamat pagi, semoga harimu menyenangkan"])
    assert set(prediction.scores) == set(LABELS)
    assert all(0.0 <= s <= 1.0 for s in prediction.scores.values())
    assert prediction.normalised == "selamat pagi semoga harimu menyenangkan"


@pytest.mark.parametrize(
    "text",
    [
        "Dasar bangsat goblok lu, anjing!",
        "Kampret tolol, bacot lu kayak babi",
    ],
)
def test_abusive_text_is_flagged(classifier: ContentClassifier, text: str) -> None:
    [prediction] = classifier.predict([text])
    assert "abusive" in prediction.labels


@pytest.mark.parametrize(
    "text",
    [
        "Dasar kafir laknat, agama kalian sesat, usir dari negeri ini",
        "Presiden antek aseng goblok, rezim bangsat harus lengser",
    ],
)
def test_hateful_text_is_flagged(classifier: ContentClassifier, text: str) -> None:
    [prediction] = classifier.predict([text])
    assert "hs" in prediction.labels


@pytest.mark.parametrize(
    "text",
    [
        "Terima kasih atas informasinya, sangat bermanfaat",
        "Besok pagi saya berangkat ke Bandung naik kereta",
        "Selamat ulang tahun ibu, semoga sehat selalu",
    ],
)
def test_neutral_text_gets_no_label(classifier: ContentClassifier, text: str) -> None:
    [prediction] = classifier.predict([text])
    assert prediction.labels == frozenset()
    assert prediction.scores["hs"] < classifier.thresholds["hs"]
    assert prediction.scores["abusive"] < classifier.thresholds["abusive"]


def test_batch_matches_single_predictions(classifier: ContentClassifier) -> None:
    texts = ["Dasar bangsat goblok lu", "Selamat pagi semua", ""]
    batch = classifier.predict(texts)
    single = [classifier.predict([t])[0] for t in texts]
    assert [p.labels for p in batch] == [p.labels for p in single]
    for b, s in zip(batch, single, strict=True):
        assert b.scores == pytest.approx(s.scores, abs=1e-5)


def test_empty_batch(classifier: ContentClassifier) -> None:
    assert classifier.predict([]) == []
