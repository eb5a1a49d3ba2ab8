"""Everything triage computes from a report's text alone, batched across concurrent reports."""

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from pantau_shared.contract import Category, CategoryScore, ClaimRef

from .claims_registry import ClaimRegistry
from .classify import TriageClassifier
from .matching import Fingerprint, fingerprints


@dataclass(frozen=True)
class Analysis:
    categories: list[CategoryScore]
    claims: list[ClaimRef]
    fingerprint: Fingerprint | None
    campaign_cues: tuple[str, ...] = ()
    # The classifier's categories before any claim made the content a hoax.
    classified: list[CategoryScore] = field(default_factory=list)

    def with_claims(self, claims: list[ClaimRef]) -> "Analysis":
        """The analysis as an agency sees it, with only the claims it may use."""
        if claims == self.claims:
            return self
        return replace(self, categories=_with_claim(self.classified, claims), claims=claims)


class Analyser:
    def __init__(self, classifier: TriageClassifier, claims: ClaimRegistry) -> None:
        self._classifier = classifier
        self._claims = claims

    def analyse(self, texts: Sequence[str]) -> list[Analysis]:
        classified = self._classifier.classify_many(texts)
        claims = self._claims.match_many(texts)
        prints = fingerprints([text or "" for text in texts])
        return [
            Analysis(
                _with_claim(found.categories, matched),
                matched,
                print_,
                found.campaign_cues,
                found.categories,
            )
            for found, matched, print_ in zip(classified, claims, prints, strict=True)
        ]


def _with_claim(categories: list[CategoryScore], claims: list[ClaimRef]) -> list[CategoryScore]:
    """A matched fact-checked claim makes the content a hoax, with the claim as the reason."""
    if not claims:
        return categories
    best = max(claims, key=lambda c: c.score)
    hoax = CategoryScore(
        category=Category.HOAKS,
        score=min(1.0, 0.5 + best.score),
        reason=f"Cocok dengan klaim yang sudah diperiksa ({best.verdict}): {best.source_url}",
    )
    kept = [c for c in categories if c.category != Category.HOAKS or c.score > hoax.score]
    if all(c.category != Category.HOAKS for c in kept):
        kept.append(hoax)
    return sorted(kept, key=lambda c: c.score, reverse=True)
