"""Routing a case to the agencies with jurisdiction, from a rules file (data, not code)."""

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from pantau_shared.contract import Category, CategoryScore


@dataclass(frozen=True)
class Rule:
    categories: frozenset[Category]
    agencies: tuple[str, ...]
    region_prefix: str = ""


class Router:
    def __init__(self, rules: list[Rule]) -> None:
        self._rules = rules

    @classmethod
    def load(cls, path: Path | None = None) -> "Router":
        text = (
            path.read_text("utf-8")
            if path
            else resources.files("pantau_triage").joinpath("data/routing.toml").read_text("utf-8")
        )
        return cls(
            [
                Rule(
                    categories=frozenset(Category(c) for c in rule["categories"]),
                    agencies=tuple(rule["agencies"]),
                    region_prefix=rule.get("region_prefix", ""),
                )
                for rule in tomllib.loads(text).get("rule", [])
            ]
        )

    def route(
        self, owner: str, region_code: str | None, categories: list[CategoryScore] | tuple[CategoryScore, ...]
    ) -> tuple[str, ...]:
        found = {c.category for c in categories}
        codes = {"province": (region_code or "")[:2], "regency": (region_code or "").replace(".", "")[:4]}
        agencies: list[str] = []
        for rule in self._rules:
            if not found & rule.categories:
                continue
            if not (region_code or "").startswith(rule.region_prefix):
                continue
            for template in rule.agencies:
                needed = [k for k in codes if "{" + k + "}" in template]
                if any(len(codes[k]) < (2 if k == "province" else 4) for k in needed):
                    continue
                agency = template.format(**codes)
                if agency != owner and agency not in agencies:
                    agencies.append(agency)
        return tuple(agencies)
