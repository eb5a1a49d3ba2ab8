import pytest

from pantau_triage.nlp.classifier import LABELS, ContentClassifier
from pantau_triage.nlp.rules import RuleSet


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


def test_the_packaged_model_has_the_sara_and_defamation_heads(classifier: ContentClassifier) -> None:
    assert classifier.labels == LABELS
    assert {"sara", "pencemaran_nama_baik"} <= set(classifier.thresholds)


@pytest.mark.parametrize(
    "text",
    [
        "Orang cina harus diusir dari Indonesia",
        "Dasar kafir laknat, agama kalian sesat, usir dari negeri ini",
    ],
)
def test_sara_incitement_is_flagged_and_triaged_as_sara(classifier: ContentClassifier, text: str) -> None:
    from pantau_shared.contract import Category
    from pantau_triage.classify import TriageClassifier

    [prediction] = classifier.predict([text])
    assert "sara" in prediction.labels
    found = {c.category: c for c in TriageClassifier(classifier, RuleSet.load()).classify(text)}
    assert "bernuansa SARA" in found[Category.SARA].reason


def test_forum_quote_markup_does_not_change_the_scores(classifier: ContentClassifier) -> None:
    plain, quoted = classifier.predict(
        [
            "jabar memang provinsi barokah",
            "[QUOTE=agan.keren;5a50ac34d89b]jabar memang provinsi barokah[/QUOTE]",
        ]
    )
    assert quoted.scores == pytest.approx(plain.scores, abs=1e-6)
