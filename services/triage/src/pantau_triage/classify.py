"""Categories for a report's text, each with a score and a reason a patrol officer can read."""

import re
import tomllib
from importlib import resources

from pantau_shared.contract import Category, CategoryScore


class KeywordClassifier:
    """Phrase lists per category, loaded from a data file so they change without a release."""

    def __init__(self, lexicon: dict[str, dict[str, object]]) -> None:
        self._rules: list[tuple[Category, re.Pattern[str], float, str]] = []
        for category, entry in lexicon.items():
            phrases = sorted(map(str, entry["phrases"]), key=len, reverse=True)  # type: ignore[call-overload]
            pattern = re.compile(r"\b(" + "|".join(map(re.escape, phrases)) + r")\b")
            self._rules.append((Category(category), pattern, float(entry["score"]),  # type: ignore[arg-type]
                                str(entry["reason"])))

    @classmethod
    def packaged(cls) -> "KeywordClassifier":
        text = resources.files("pantau_triage").joinpath("data/keywords.toml").read_text("utf-8")
        return cls(tomllib.loads(text))

    def classify(self, text: str) -> list[CategoryScore]:
        lowered = " ".join(text.casefold().split())
        scores = []
        for category, pattern, score, reason in self._rules:
            found = sorted({m.group(0) for m in pattern.finditer(lowered)})
            if found:
                scores.append(CategoryScore(
                    category=category, score=min(1.0, score + 0.1 * (len(found) - 1)),
                    reason=f"{reason}: {', '.join(found[:3])}"))
        return sorted(scores, key=lambda s: s.score, reverse=True)
