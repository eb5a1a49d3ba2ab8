import io
import json
from pathlib import Path

import pytest

from pantau_triage.nlp import cli


def run(monkeypatch: pytest.MonkeyPatch, argv: list[str], stdin: str = "") -> str:
    out = io.StringIO()
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    monkeypatch.setattr("sys.stdout", out)
    assert cli.main(argv) == 0
    return out.getvalue()


def test_classify_round_trip_with_a_malformed_line(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = [
        json.dumps({"id": 1, "text": "Besok ada serangan fajar, tiap rumah dapet amplop"}),
        "{not json",
        json.dumps({"id": "b", "text": "Dasar bangsat goblok lu, anjing!"}),
        json.dumps({"id": 3}),
    ]
    output = run(monkeypatch, ["classify"], "\n".join(lines) + "\n")
    records = [json.loads(line) for line in output.splitlines()]

    assert [r["id"] for r in records] == [1, None, "b", 3]
    money, broken, abusive, missing_text = records
    assert "politik_uang" in {hit["category"] for hit in money["rule_hits"]}
    assert money["normalised"].startswith("besok ada serangan fajar")
    assert broken["error"].startswith("invalid JSON")
    assert "abusive" in abusive["labels"]
    assert set(abusive["scores"]) >= {"hs", "abusive"}
    assert "error" in missing_text


def test_evaluate_prints_a_table(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    header = (
        "Tweet,HS,Abusive,HS_Individual,HS_Group,HS_Religion,HS_Race,HS_Physical,"
        "HS_Gender,HS_Other,HS_Weak,HS_Moderate,HS_Strong"
    )
    rows = [
        "Dasar bangsat goblok lu anjing,1,1,1,0,0,0,0,0,0,1,0,0",
        "Kampret tolol bacot lu kayak babi,1,1,1,0,0,0,0,0,0,1,0,0",
        "Selamat pagi semoga harimu menyenangkan,0,0,0,0,0,0,0,0,0,0,0,0",
        "Terima kasih atas informasinya,0,0,0,0,0,0,0,0,0,0,0,0",
    ]
    path = tmp_path / "tiny.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")

    output = run(monkeypatch, ["evaluate", str(path)])
    table = {line.split()[0]: line.split()[1:] for line in output.splitlines()[1:-1]}
    # Ibrohim's columns, and sara read from HS_Religion / HS_Race; no defamation column.
    assert set(table) == {
        "hs",
        "abusive",
        "hs_individual",
        "hs_group",
        "hs_religion",
        "hs_race",
        "hs_physical",
        "hs_gender",
        "hs_other",
        "sara",
    }
    _precision, recall, _f1, support = table["abusive"]
    assert float(recall) == 1.0 and support == "2"
    assert table["sara"][3] == "0"
    assert output.splitlines()[-1].startswith("4 texts")


def test_evaluate_reads_the_netifier_format(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "netifier.csv"
    path.write_text(
        "original_text,source,pornografi,sara,radikalisme,pencemaran_nama_baik\n"
        '"Dasar kafir laknat, agama kalian sesat, usir dari negeri ini",twitter,0,1,0,0\n'
        '"Besok pagi saya berangkat ke Bandung naik kereta",instagram,0,0,0,0\n'
        '"Pejabat itu maling uang rakyat, penipu",kaskus,0,0,0,1\n',
        encoding="utf-8",
    )
    output = run(monkeypatch, ["evaluate", str(path)])
    table = {line.split()[0]: line.split()[1:] for line in output.splitlines()[1:-1]}
    # hs is known for the SARA post (1) and the post with no label (0), not for the defamation.
    assert set(table) == {"hs", "sara", "pencemaran_nama_baik"}
    assert table["hs"][3] == "1" and table["sara"][3] == "1" and table["pencemaran_nama_baik"][3] == "1"


def test_evaluate_refuses_another_format(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "other.csv"
    path.write_text("text,label\nhalo,0\n", encoding="utf-8")
    out = io.StringIO()
    monkeypatch.setattr("sys.stdout", out)
    assert cli.main(["evaluate", str(path)]) == 2
    assert out.getvalue().startswith("error: ")
