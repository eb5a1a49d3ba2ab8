"""The labelled corpora the classifier is trained and measured on, mapped to one label set.

Each corpus annotates different things, so a row's target for a label is 1, 0 or ``UNKNOWN``
(the corpus does not say); training and scoring use, per label, only the rows that know it.

| label | Ibrohim & Budi 2019 (tweets) | Netifier 2018 (Twitter, Instagram, Kaskus) |
|---|---|---|
| hs | HS | 1 if sara; 0 if the post has none of its four labels; otherwise unknown |
| abusive, hs_* | their own columns | unknown (never annotated) |
| sara | HS_Religion or HS_Race | sara |
| pencemaran_nama_baik | unknown | pencemaran_nama_baik |

Netifier's ``sara`` is incitement along ethnic, religious, racial or inter-group lines, which
Ibrohim annotates as hate speech with a religion or race category (every such tweet has HS=1).
HS_Group is not SARA: it marks that the target is a group, political camps included.
Netifier's ``pornografi`` and ``radikalisme`` have no counterpart and no election category and
are not used; a Netifier post with a defamation, pornography or radicalism label and no ``sara``
may or may not be hate speech, hence unknown.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pantau_triage.nlp.classifier import LABELS

__all__ = ["LABELS", "UNKNOWN", "Corpus", "read_corpus", "read_ibrohim", "read_netifier"]

UNKNOWN = -1
_IBROHIM_COLUMNS = {
    "hs": "HS",
    "abusive": "Abusive",
    "hs_individual": "HS_Individual",
    "hs_group": "HS_Group",
    "hs_religion": "HS_Religion",
    "hs_race": "HS_Race",
    "hs_physical": "HS_Physical",
    "hs_gender": "HS_Gender",
    "hs_other": "HS_Other",
}
_NETIFIER_LABELS = ("pornografi", "sara", "radikalisme", "pencemaran_nama_baik")


@dataclass(frozen=True)
class Corpus:
    name: str
    texts: list[str]
    targets: np.ndarray  # rows x LABELS, int8: 1, 0 or UNKNOWN
    sources: list[str]  # the platform of each row

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, rows: Sequence[int] | np.ndarray, name: str | None = None) -> Corpus:
        index = np.asarray(rows, dtype=np.int64)
        return Corpus(
            name or self.name,
            [self.texts[i] for i in index],
            self.targets[index],
            [self.sources[i] for i in index],
        )

    def where_source(self, source: str) -> Corpus:
        rows = [i for i, s in enumerate(self.sources) if s == source]
        return self.subset(rows, f"{self.name}/{source}")

    @staticmethod
    def concat(name: str, parts: Sequence[Corpus]) -> Corpus:
        return Corpus(
            name,
            [t for part in parts for t in part.texts],
            np.concatenate([part.targets for part in parts]),
            [s for part in parts for s in part.sources],
        )


def read_ibrohim(path: Path) -> Corpus:
    rows = _read_csv(path)
    targets = np.full((len(rows), len(LABELS)), UNKNOWN, dtype=np.int8)
    for j, label in enumerate(LABELS):
        if label in _IBROHIM_COLUMNS:
            targets[:, j] = [int(row[_IBROHIM_COLUMNS[label]]) for row in rows]
    religion_or_race = targets[:, LABELS.index("hs_religion")] | targets[:, LABELS.index("hs_race")]
    targets[:, LABELS.index("sara")] = religion_or_race
    return Corpus("ibrohim2019", [row["Tweet"] for row in rows], targets, ["twitter"] * len(rows))


def read_netifier(path: Path) -> Corpus:
    rows = _read_csv(path)
    targets = np.full((len(rows), len(LABELS)), UNKNOWN, dtype=np.int8)
    given = np.array([[int(row[name]) for name in _NETIFIER_LABELS] for row in rows], np.int8)
    sara = given[:, _NETIFIER_LABELS.index("sara")]
    targets[:, LABELS.index("sara")] = sara
    targets[:, LABELS.index("pencemaran_nama_baik")] = given[
        :, _NETIFIER_LABELS.index("pencemaran_nama_baik")
    ]
    hs = np.full(len(rows), UNKNOWN, dtype=np.int8)
    hs[given.sum(axis=1) == 0] = 0
    hs[sara == 1] = 1
    targets[:, LABELS.index("hs")] = hs
    texts = [row["original_text"] for row in rows]
    return Corpus("netifier2018", texts, targets, [row["source"] for row in rows])


def read_corpus(path: Path) -> Corpus:
    """Either corpus, told apart by its text column ("Tweet" or "original_text")."""
    with path.open(encoding="utf-8", newline="") as handle:
        header = next(csv.reader(handle), [])
    if "Tweet" in header:
        return read_ibrohim(path)
    if "original_text" in header:
        return read_netifier(path)
    raise ValueError(
        f"{path}: neither the Ibrohim (Tweet, HS, ...) nor the Netifier (original_text, ...) format"
    )


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))
