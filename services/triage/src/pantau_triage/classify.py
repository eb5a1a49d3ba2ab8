"""Categories for a report's text, each with a score and a reason a patrol officer can read.

Two sources: the trained model (hate speech, SARA, abusive language and defamation, from labelled
tweets and Twitter/Instagram/Kaskus posts; see `nlp/data/MODEL_CARD.md`) and the
rule lexicons (money politics, civil-servant partisanship, incitement, hoax cues), which cover
what no labelled data set does. The stronger signal per category wins.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from pantau_shared.contract import Category, CategoryScore

from .nlp.classifier import ContentClassifier, Prediction
from .nlp.rules import RuleSet, cite

# Incitement along ethnic, religious, racial or inter-group lines (the model's own `sara` label)
# is SARA under Art. 280(1)(c); other hate speech stays ujaran_kebencian; abusive language and
# defamation are treated as an insult (penghinaan), damped: they are common and often not at a
# participant.
SARA_TARGETS = {"hs_religion": "agama", "hs_race": "ras/etnis"}
INSULT_DAMPING = 0.8


class TriageClassifier:
    def __init__(self, model: ContentClassifier, rules: RuleSet) -> None:
        self._model = model
        self._rules = rules

    @classmethod
    def packaged(cls) -> "TriageClassifier":
        return cls(ContentClassifier.load(), RuleSet.load())

    def classify(self, text: str) -> list[CategoryScore]:
        return self.classify_many([text])[0].categories

    def classify_many(self, texts: Sequence[str]) -> list["Classified"]:
        """One vectorised model call for the batch; empty texts get no categories."""
        found = [Classified([], ()) for _ in texts]
        filled = [i for i, text in enumerate(texts) if text.strip()]
        predictions = self._model.predict([texts[i] for i in filled]) if filled else []
        for i, prediction in zip(filled, predictions, strict=True):
            found[i] = self._classified(prediction)
        return found

    def _classified(self, prediction: Prediction) -> "Classified":
        cues: list[str] = []
        scores = prediction.scores
        found: dict[Category, CategoryScore] = {}

        def keep(category: Category, score: float, reason: str) -> None:
            current = found.get(category)
            if current is None or score > current.score:
                found[category] = CategoryScore(category=category, score=round(score, 3), reason=reason)

        if "sara" in prediction.labels:
            targets = [name for label, name in SARA_TARGETS.items() if label in prediction.labels]
            aimed = f" terhadap {' dan '.join(targets)}" if targets else ""
            keep(Category.SARA, scores["sara"], f"Model mendeteksi ujaran kebencian bernuansa SARA{aimed}")
        elif "hs" in prediction.labels:
            keep(Category.UJARAN_KEBENCIAN, scores["hs"], "Model mendeteksi ujaran kebencian")
        if "abusive" in prediction.labels:
            keep(
                Category.PENGHINAAN,
                scores["abusive"] * INSULT_DAMPING,
                "Model mendeteksi bahasa kasar atau menghina",
            )
        if "pencemaran_nama_baik" in prediction.labels:
            keep(
                Category.PENGHINAAN,
                scores["pencemaran_nama_baik"] * INSULT_DAMPING,
                "Model mendeteksi pencemaran nama baik",
            )
        for hit in self._rules.match(prediction.normalised):
            # Campaign cues are violations only outside the campaign period; that needs the
            # election calendar, which this classifier does not know.
            if hit.needs_calendar:
                cues.extend(hit.matched)
                continue
            keep(Category(hit.category), hit.score, cite(hit.reason, hit.matched))
        return Classified(
            sorted(found.values(), key=lambda s: s.score, reverse=True), tuple(dict.fromkeys(cues))
        )


@dataclass(frozen=True)
class Classified:
    categories: list[CategoryScore]
    # Words that make the text campaign content; a violation only at the wrong time.
    campaign_cues: tuple[str, ...]
