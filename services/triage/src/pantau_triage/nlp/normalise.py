"""Indonesian social-media text normalisation.

The classifier and the rule lexicons both read the output of `normalise`, so anything
changed here changes what the model sees: retrain after editing (see
``scripts/train_classifier.py``).
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from functools import cache
from importlib import resources
from pathlib import Path

__all__ = ["Normaliser", "default_normaliser", "load_kamus", "normalise"]

KAMUS_FILENAME = "kamusalay.tsv"

# Order matters: escapes and URLs go before punctuation is dropped, otherwise their
# fragments ("https", "co", "xf0") survive as tokens.
_LITERAL_ESCAPE = re.compile(r"\\x[0-9a-fA-F]{2}|\\[ntr]|\\u[0-9a-fA-F]{4}")
_URL = re.compile(r"(?:https?:|www\.)\S*|\S+\.(?:com|id|co|net|org|ly)/\S*")
_MENTION = re.compile(r"@\w+")
# Forum markup (Kaskus "[QUOTE=user;post-id]", "[B]") and smiley codes (":ngakak") carry
# user names and post ids, not words.
_MARKUP = re.compile(r"\[/?(?:quote|b|i|u|s|url|img|spoiler|size|color|font|center)\b[^\]]*\]", re.I)
_SMILEY_CODE = re.compile(r"(?<!\S):[a-z]\w+")
_PLACEHOLDER = re.compile(r"\b(?:url|user|rt)\b")
_TOKEN = re.compile(r"[^\W_]+")
_REPEAT_3 = re.compile(r"(\w)\1{2,}")
_REPEAT_2 = re.compile(r"(\w)\1+")
# "bagi2", "ujung2nya": the digit 2 marks reduplication, an optional suffix follows it.
_REDUPLICATION = re.compile(r"^([a-z]{2,})2(nya|an|in|kan|lah|mu|ku)?$")
# Only digits wedged between letters are read as letters ("s4ya", "b4ru"), so years,
# numbers and hashtags such as "2019gantipresiden" keep their digits.
_LEET_DIGIT = re.compile(r"(?<=[a-z])[013457](?=[a-z])")
# "50rb", "2jt", "100ribu": amounts glued to their unit, frequent in money-politics posts.
_AMOUNT = re.compile(r"^(\d+)([a-z]{2,})$")
_LEET = {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t"}

_TOKEN_CACHE_LIMIT = 200_000


def load_kamus(path: Path) -> dict[str, str]:
    """Read a ``slang<TAB>standard`` file into a dict (lines starting with '#' are skipped)."""
    kamus: dict[str, str] = {}
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if not line.strip() or line.startswith("#"):
                continue
            slang, _, standard = line.rstrip("\n").partition("\t")
            if slang and standard:
                kamus[slang] = standard
    return kamus


class Normaliser:
    """Stateless apart from a per-token cache; safe to share within one thread."""

    def __init__(self, kamus: Mapping[str, str]) -> None:
        self._kamus = dict(kamus)
        # Words that are already standard: used to choose between "maaf" and "maf" when
        # collapsing repeated letters.
        self._known = set(self._kamus)
        for standard in self._kamus.values():
            self._known.update(standard.split())
        self._token_cache: dict[str, str] = {}

    @classmethod
    def from_file(cls, path: Path) -> Normaliser:
        return cls(load_kamus(path))

    def __call__(self, text: str) -> str:
        text = html.unescape(text) if "&" in text else text
        text = _LITERAL_ESCAPE.sub(" ", text)
        text = _MARKUP.sub(" ", text) if "[" in text else text
        text = _URL.sub(" ", text)
        text = _SMILEY_CODE.sub(" ", text) if ":" in text else text
        text = _MENTION.sub(" ", text)
        text = _PLACEHOLDER.sub(" ", text.lower())
        cache_ = self._token_cache
        out = []
        for token in _TOKEN.findall(text):
            mapped = cache_.get(token)
            if mapped is None:
                mapped = self._normalise_token(token)
                if len(cache_) >= _TOKEN_CACHE_LIMIT:
                    cache_.clear()
                cache_[token] = mapped
            if mapped:
                out.append(mapped)
        return " ".join(out)

    def _normalise_token(self, token: str) -> str:
        kamus = self._kamus
        if token in kamus:
            return kamus[token]
        if token.isdigit():
            return token
        if "2" in token:
            match = _REDUPLICATION.match(token)
            if match:
                base = self._normalise_token(match.group(1))
                return f"{base} {base}{match.group(2) or ''}"
        amount = _AMOUNT.match(token)
        if amount:
            return f"{amount.group(1)} {self._normalise_token(amount.group(2))}"
        if any(ch.isdigit() for ch in token):
            token = _LEET_DIGIT.sub(lambda m: _LEET[m.group()], token)
            if token in kamus:
                return kamus[token]
        if _REPEAT_3.search(token):
            token = _REPEAT_3.sub(r"\1\1", token)
            if token in self._known:
                return token
            if token in kamus:
                return kamus[token]
            single = _REPEAT_2.sub(r"\1", token)
            return kamus.get(single, single)
        return token


@cache
def default_normaliser() -> Normaliser:
    """The normaliser built from the packaged kamus alay dictionary (loaded on first use)."""
    resource = resources.files("pantau_triage.nlp").joinpath("data", KAMUS_FILENAME)
    with resources.as_file(resource) as path:
        return Normaliser.from_file(path)


def normalise(text: str) -> str:
    """Lower-case, strip noise (URLs, mentions, emoji escapes, punctuation) and map slang.

    >>> normalise("RT @budi: Gw s4ya bangeeeet ga suka!!! https://t.co/x")
    'gue saya banget tidak suka'
    """
    return default_normaliser()(text)
