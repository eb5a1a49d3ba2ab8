from pathlib import Path

import numpy as np
import pytest

from pantau_triage.nlp.classifier import LABELS
from pantau_triage.nlp.corpora import UNKNOWN, Corpus, read_corpus, read_ibrohim, read_netifier

IBROHIM = (
    "Tweet,HS,Abusive,HS_Individual,HS_Group,HS_Religion,HS_Race,HS_Physical,HS_Gender,HS_Other,"
    "HS_Weak,HS_Moderate,HS_Strong\n"
    "kafir sesat,1,0,0,1,1,0,0,0,0,0,1,0\n"
    "dasar cina,1,1,0,1,0,1,0,0,0,1,0,0\n"
    "goblok lu,1,1,1,0,0,0,0,0,1,1,0,0\n"
    "selamat pagi,0,0,0,0,0,0,0,0,0,0,0,0\n"
)
NETIFIER = (
    "original_text,source,pornografi,sara,radikalisme,pencemaran_nama_baik\n"
    '"usir agama itu",twitter,0,1,1,0\n'
    '"foto syur",instagram,1,0,0,0\n'
    '"dia koruptor",kaskus,0,0,0,1\n'
    '"halo gan",kaskus,0,0,0,0\n'
)


def column(corpus: Corpus, label: str) -> list[int]:
    return corpus.targets[:, LABELS.index(label)].tolist()


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    ibrohim, netifier = tmp_path / "ibrohim.csv", tmp_path / "netifier.csv"
    ibrohim.write_text(IBROHIM, encoding="utf-8")
    netifier.write_text(NETIFIER, encoding="utf-8")
    return ibrohim, netifier


def test_ibrohim_sara_is_religion_or_race_and_defamation_is_unknown(files: tuple[Path, Path]) -> None:
    corpus = read_ibrohim(files[0])
    assert column(corpus, "sara") == [1, 1, 0, 0]
    assert column(corpus, "hs") == [1, 1, 1, 0]
    assert column(corpus, "pencemaran_nama_baik") == [UNKNOWN] * 4
    assert set(corpus.sources) == {"twitter"}


def test_netifier_hate_speech_is_known_only_where_the_labels_decide_it(files: tuple[Path, Path]) -> None:
    corpus = read_netifier(files[1])
    assert column(corpus, "sara") == [1, 0, 0, 0]
    assert column(corpus, "pencemaran_nama_baik") == [0, 0, 1, 0]
    # SARA incitement is hate speech; a post with no label is not; porn or defamation alone: unknown.
    assert column(corpus, "hs") == [1, UNKNOWN, UNKNOWN, 0]
    assert column(corpus, "abusive") == [UNKNOWN] * 4
    assert corpus.sources == ["twitter", "instagram", "kaskus", "kaskus"]


def test_corpora_combine_and_split_by_platform(files: tuple[Path, Path]) -> None:
    both = Corpus.concat("both", [read_corpus(files[0]), read_corpus(files[1])])
    assert len(both) == 8 and both.targets.shape == (8, len(LABELS))
    kaskus = both.where_source("kaskus")
    assert kaskus.texts == ["dia koruptor", "halo gan"]
    assert np.array_equal(kaskus.targets, both.targets[[6, 7]])
