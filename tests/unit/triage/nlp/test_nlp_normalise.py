import pytest

from pantau_triage.nlp.normalise import Normaliser, normalise


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("RT USER: USER Gw s4ya bangeeeet ga suka!!! URL", "gue saya banget tidak suka"),
        ("@budi_01 cek https://t.co/9y4HIWHJp2 dulu", "cek dulu"),
        ("Mantap \\xf0\\x9f\\x98\\x82\\xf0\\x9f\\x98\\x82 pokoknya", "mantap pokoknya"),
        ("baris satu\\nbaris dua", "baris satu baris dua"),
        ("Jokowi &amp; Prabowo", "jokowi prabowo"),
        ("maaaaaf ya kakk", "maaf ya kakak"),
        ("ujung2nya bagi2 duit", "ujung ujungnya bagi bagi duit"),
        ("b4ru tau", "baru tau"),
        ("Pemilu 2024 tanggal 14", "pemilihan umum 2024 tanggal 14"),
        ("dikasih 2jt", "dikasih 2 juta"),
        ("   ", ""),
    ],
)
def test_normalise_cleans_indonesian_social_media_text(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


def test_hashtag_keeps_its_words() -> None:
    assert normalise("#2019GantiPresiden") == "2019 ganti presiden"


def test_custom_kamus_is_applied_after_cleaning() -> None:
    normaliser = Normaliser({"bgt": "banget", "yg": "yang"})
    assert normaliser("Yg ini BGT!!!") == "yang ini banget"


def test_repeated_result_comes_from_token_cache() -> None:
    normaliser = Normaliser({"gk": "tidak"})
    first = normaliser("gk gk gk")
    assert first == normaliser("gk gk gk") == "tidak tidak tidak"


def test_forum_markup_and_smiley_codes_are_dropped() -> None:
    raw = "[QUOTE=agan.keren;5a50ac34d89b093f]jabar barokah :lehuga[/QUOTE]\n[B]WOI[/b] jam 10:30"
    assert normalise(raw) == normalise("jabar barokah woi jam 10 30")
