from pathlib import Path

import pytest

from pantau_triage.nlp.normalise import normalise
from pantau_triage.nlp.rules import CATEGORIES, RuleSet


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return RuleSet.load()


def categories(rules: RuleSet, text: str) -> set[str]:
    return {hit.category for hit in rules.match(normalise(text))}


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("Besok pagi ada serangan fajar, tiap rumah dapet amplop", "politik_uang"),
        ("Yang coblos no 2 dapet 100rb, transfer abis nyoblos", "politik_uang"),
        ("Wani piro? Suara warga sini bisa diatur", "politik_uang"),
        ("bagi2 sembako dari caleg partai X di kampung kami", "politik_uang"),
        ("Pak Kades ikut kampanye dan ajak warga dukung paslon 02", "netralitas_asn"),
        ("Foto camat pose dua jari bareng caleg viral di grup", "netralitas_asn"),
        ("Ayo kita serbu kantor KPU dan bakar semua surat suara!", "hasutan"),
        ("Usir cina dari negeri ini", "hasutan"),
        ("Jangan lupa coblos nomor urut 3 ya", "kampanye_luar_jadwal"),
        ("Tolong sebarkan sebelum dihapus! server KPU sudah disetting", "hoaks"),
    ],
)
def test_realistic_posts_hit_their_category(rules: RuleSet, text: str, category: str) -> None:
    assert category in categories(rules, text)


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("Mari kita tolak serangan fajar dan laporkan ke Bawaslu", "politik_uang"),
        ("Pembagian sembako untuk korban banjir di Demak", "politik_uang"),
        ("ASN wajib netral dan dilarang mendukung calon manapun", "netralitas_asn"),
        ("Kepala desa mengimbau warga datang ke TPS tanggal 14 Februari", "netralitas_asn"),
        ("Hari ini bakar ikan di pantai bersama keluarga", "hasutan"),
        ("Jangan rusuh, pemilu harus damai", "hasutan"),
        ("Rapat pleno KPU berjalan lancar", "kampanye_luar_jadwal"),
    ],
)
def test_near_misses_do_not_hit(rules: RuleSet, text: str, category: str) -> None:
    assert category not in categories(rules, text)


def test_hit_carries_reason_phrases_and_calendar_flag(rules: RuleSet) -> None:
    hits = rules.match(normalise("Jangan lupa coblos nomor urut 3 ya"))
    campaign = [h for h in hits if h.category == "kampanye_luar_jadwal"]
    assert campaign and all(h.needs_calendar for h in campaign)
    money = rules.match(normalise("Ada serangan fajar di desa kami"))[0]
    assert money.category == "politik_uang"
    assert money.matched == ("serangan fajar",)
    assert "serangan fajar" in money.reason
    assert not money.needs_calendar


def test_every_packaged_hit_uses_a_taxonomy_category(rules: RuleSet) -> None:
    text = normalise("serangan fajar kades dukung paslon serbu kpu coblos nomor 1 sebarkan")
    hits = rules.match(text)
    assert len(hits) >= 4
    assert {h.category for h in hits} <= CATEGORIES


def test_proximity_window_is_respected(tmp_path: Path) -> None:
    (tmp_path / "x.toml").write_text(
        'category = "politik_uang"\n[[rules]]\nid = "dekat"\nweight = 0.5\n'
        'reason = "uji"\nall = [["amplop"], ["warga"]]\nwithin = 2\n',
        encoding="utf-8",
    )
    rules = RuleSet.load(tmp_path)
    assert rules.match("amplop untuk warga")
    assert not rules.match("amplop itu dibawa pulang oleh para warga")


def test_unknown_category_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "bad.toml").write_text(
        'category = "spam"\n[[rules]]\nid = "a"\nweight = 1\nreason = "r"\nany = ["x"]\n',
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match="unknown category"):
        RuleSet.load(tmp_path)
