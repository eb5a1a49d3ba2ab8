"""Lexicon rules for what no labelled data set covers (money politics, ASN partisanship, ...).

Rules live in TOML files under ``lexicons/``, one file per category::

    category = "politik_uang"
    needs_calendar = false           # optional; true for campaign cues (see below)

    [[rules]]
    id = "serangan_fajar"
    weight = 0.9
    reason = "Menyebut pembagian uang kepada pemilih (serangan fajar)"
    any = ["serangan fajar", "bagi bagi amplop"]          # one of these phrases, or
    all = [["pilih", "coblos"], ["dapat", "dikasih"]]     # one phrase of EACH group ...
    within = 6                                            # ... within 6 tokens of a match
                                                          #     of the first group
    unless = ["tolak", "lawan"]                           # optional: veto phrases within
                                                          #     `within` tokens of the match

Phrases are run through the same normaliser as the text, so "gak" in a lexicon matches
"tidak" in the text. Matching is a single pass over the tokens with a dict keyed on the
first token of every phrase, so the cost does not grow with the number of rules.

Hits from ``kampanye.toml`` carry ``category = "kampanye_luar_jadwal"`` and
``needs_calendar = True``: they only say the text is campaign content; whether it is a
violation depends on the election calendar and the account, which the service decides.
"""

from __future__ import annotations

import tomllib
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from pantau_triage.nlp.normalise import normalise as default_normalise

__all__ = ["CATEGORIES", "RuleHit", "RuleSet"]

CATEGORIES = frozenset(
    {
        "hoaks",
        "ujaran_kebencian",
        "sara",
        "hasutan",
        "politik_uang",
        "netralitas_asn",
        "kampanye_luar_jadwal",
        "penghinaan",
    }
)
_DEFAULT_WINDOW = 8


def cite(reason: str, matched: Sequence[str]) -> str:
    """The reason with the words that triggered it, leaving out words it already names:
    "... pemilih (serangan fajar)", never "... (serangan fajar) (serangan fajar)"."""
    said = reason.lower()
    words = [word for word in dict.fromkeys(matched) if word.lower() not in said][:3]
    if not words:
        return reason
    listed = ", ".join(words)
    if reason.endswith(")"):
        return f"{reason[:-1]}; kata: {listed})"
    return f"{reason} (kata: {listed})"


@dataclass(frozen=True, slots=True)
class RuleHit:
    category: str
    rule_id: str
    score: float
    reason: str
    matched: tuple[str, ...]
    needs_calendar: bool = False


@dataclass(frozen=True, slots=True)
class _Rule:
    category: str
    rule_id: str
    weight: float
    reason: str
    # Each group's phrases in sorted order: the phrase a reason cites is the first that
    # matches, the same in every process (a set's order changes with the hash seed).
    groups: tuple[tuple[str, ...], ...]
    unless: frozenset[str]
    within: int
    needs_calendar: bool


# phrase -> list of token positions where it starts
_Occurrences = dict[str, list[int]]


class RuleSet:
    def __init__(self, rules: Iterable[_Rule]) -> None:
        self._rules = tuple(rules)
        self._phrases_by_first: dict[str, list[tuple[str, tuple[str, ...]]]] = defaultdict(list)
        self._rules_by_phrase: dict[str, list[_Rule]] = defaultdict(list)
        seen: set[str] = set()
        for rule in self._rules:
            for phrase in set().union(*rule.groups, rule.unless):
                if phrase not in seen:
                    seen.add(phrase)
                    tokens = tuple(phrase.split())
                    self._phrases_by_first[tokens[0]].append((phrase, tokens))
            for group in rule.groups:
                for phrase in group:
                    self._rules_by_phrase[phrase].append(rule)

    @classmethod
    def load(
        cls,
        directory: Path | None = None,
        normaliser: Callable[[str], str] = default_normalise,
    ) -> RuleSet:
        """Load every ``*.toml`` in `directory` (default: the packaged lexicons)."""
        if directory is None:
            package_dir = resources.files("pantau_triage.nlp").joinpath("lexicons")
            with resources.as_file(package_dir) as path:
                return cls.load(path, normaliser)
        rules: list[_Rule] = []
        for path in sorted(directory.glob("*.toml")):
            with path.open("rb") as handle:
                rules.extend(_parse_file(tomllib.load(handle), path.name, normaliser))
        return cls(rules)

    def __len__(self) -> int:
        return len(self._rules)

    def match(self, normalised_text: str) -> list[RuleHit]:
        """Return one hit per rule that fires, strongest first."""
        occurrences = self._find_phrases(normalised_text.split())
        if not occurrences:
            return []
        candidates = {id(r): r for p in occurrences for r in self._rules_by_phrase.get(p, ())}
        hits = [hit for rule in candidates.values() if (hit := _evaluate(rule, occurrences))]
        hits.sort(key=lambda h: (-h.score, h.category, h.rule_id))
        return hits

    def _find_phrases(self, tokens: list[str]) -> _Occurrences:
        found: _Occurrences = {}
        by_first = self._phrases_by_first
        for i, token in enumerate(tokens):
            for phrase, phrase_tokens in by_first.get(token, ()):
                end = i + len(phrase_tokens)
                if len(phrase_tokens) == 1 or tuple(tokens[i:end]) == phrase_tokens:
                    found.setdefault(phrase, []).append(i)
        return found


def _evaluate(rule: _Rule, occurrences: _Occurrences) -> RuleHit | None:
    vetoes = [pos for phrase in rule.unless for pos in occurrences.get(phrase, ())]
    first, *others = rule.groups
    for anchor_phrase in first:
        for anchor in occurrences.get(anchor_phrase, ()):
            if any(abs(pos - anchor) <= rule.within for pos in vetoes):
                continue
            matched = [anchor_phrase]
            for group in others:
                partner = _nearest_in_group(group, occurrences, anchor, rule.within)
                if partner is None:
                    break
                matched.append(partner)
            else:
                return RuleHit(
                    category=rule.category,
                    rule_id=rule.rule_id,
                    score=rule.weight,
                    reason=rule.reason,
                    matched=tuple(matched),
                    needs_calendar=rule.needs_calendar,
                )
    return None


def _nearest_in_group(
    group: tuple[str, ...], occurrences: _Occurrences, anchor: int, within: int
) -> str | None:
    for phrase in group:
        if any(abs(pos - anchor) <= within for pos in occurrences.get(phrase, ())):
            return phrase
    return None


def _parse_file(document: dict[str, object], source: str, normaliser: Callable[[str], str]) -> list[_Rule]:
    category = document.get("category")
    if category not in CATEGORIES:
        raise ValueError(f"{source}: unknown category {category!r}")
    needs_calendar = bool(document.get("needs_calendar", False))
    raw_rules = document.get("rules", [])
    if not isinstance(raw_rules, list):
        raise ValueError(f"{source}: 'rules' must be an array of tables")

    def phrases(values: object, where: str) -> frozenset[str]:
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise ValueError(f"{source}: {where} must be a list of strings")
        normalised = {normaliser(v) for v in values}
        normalised.discard("")
        return frozenset(normalised)

    rules = []
    for raw in raw_rules:
        rule_id = f"{category}.{raw['id']}"
        if ("any" in raw) == ("all" in raw):
            raise ValueError(f"{source}: rule {rule_id} needs exactly one of 'any' or 'all'")
        if "any" in raw:
            groups: tuple[tuple[str, ...], ...] = (tuple(sorted(phrases(raw["any"], f"{rule_id}.any"))),)
        else:
            groups = tuple(tuple(sorted(phrases(g, f"{rule_id}.all"))) for g in raw["all"])
        if not all(groups):
            raise ValueError(f"{source}: rule {rule_id} has an empty phrase group")
        rules.append(
            _Rule(
                category=str(category),
                rule_id=rule_id,
                weight=float(raw["weight"]),
                reason=str(raw["reason"]),
                groups=groups,
                unless=phrases(raw.get("unless", []), f"{rule_id}.unless"),
                within=int(raw.get("within", _DEFAULT_WINDOW)),
                needs_calendar=needs_calendar,
            )
        )
    return rules
