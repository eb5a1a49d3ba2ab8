from datetime import date

import pytest

from pantau_triage.matching.claims import ACCEPT_THRESHOLD, Claim, ClaimMatcher

REGISTRY = [
    Claim(
        "tbh-101",
        "Tujuh kontainer berisi surat suara yang sudah dicoblos untuk paslon 01 ditemukan di "
        "Pelabuhan Tanjung Priok",
        "hoaks",
        "https://turnbackhoax.id/contoh/kontainer-surat-suara",
        date(2019, 1, 3),
    ),
    Claim(
        "tbh-102",
        "Server KPU diatur di luar negeri agar perolehan suara paslon tertentu selalu 57 persen",
        "hoaks",
        "https://turnbackhoax.id/contoh/server-kpu",
        date(2019, 4, 20),
    ),
    Claim(
        "tempo-203",
        "Ijazah SMA calon presiden dinyatakan palsu oleh Dinas Pendidikan",
        "keliru",
        "https://cekfakta.tempo.co/contoh/ijazah",
        None,
    ),
    Claim(
        "tbh-104",
        "Warga yang tidak membawa e-KTP dilarang mencoblos di TPS pada hari pemungutan suara",
        "menyesatkan",
        "https://turnbackhoax.id/contoh/ektp",
        date(2024, 2, 10),
    ),
]


@pytest.fixture(scope="module")
def matcher() -> ClaimMatcher:
    return ClaimMatcher.build(REGISTRY)


def test_paraphrase_finds_the_right_claim(matcher):
    [[best]] = matcher.match(
        ["Astaga, ada 7 kontainer surat suara sudah dicoblos paslon 01 di Tanjung Priok!! 😱"]
    )
    assert best.claim_id == "tbh-101"
    assert best.accepted
    assert best.score >= ACCEPT_THRESHOLD


def test_forward_with_typos_and_chat_spelling_still_matches(matcher):
    [[best]] = matcher.match(
        ["Diteruskan: server KPU diatur dr luar negri, suara paslon selalu 57 persen. Sebarkan!"]
    )
    assert (best.claim_id, best.accepted) == ("tbh-102", True)


def test_unrelated_text_is_not_accepted(matcher):
    [matches] = matcher.match(["Harga cabai rawit di Pasar Kramat Jati naik lagi minggu ini"])
    assert all(not match.accepted for match in matches)


def test_same_vocabulary_different_claim_is_not_accepted(matcher):
    [matches] = matcher.match(["KPU membuka rekrutmen petugas KPPS untuk pemungutan suara di kecamatan"])
    assert all(not match.accepted for match in matches)


def test_batch_keeps_order_and_top_k_is_sorted(matcher):
    results = matcher.match(
        [
            "Ijazah SMA capres palsu kata Dinas Pendidikan",
            "Tidak bawa e-KTP dilarang mencoblos di TPS, benarkah?",
        ],
        top_k=3,
    )
    assert [matches[0].claim_id for matches in results] == ["tempo-203", "tbh-104"]
    for matches in results:
        scores = [match.score for match in matches]
        assert scores == sorted(scores, reverse=True)
        assert len(matches) <= 3


def test_add_makes_new_claims_matchable_and_keeps_old_ones(matcher):
    text = "Kotak suara dari kardus mudah dijebol, sengaja dipakai untuk curang"
    assert not any(m.accepted for m in matcher.match([text])[0])
    grown = matcher.add(
        [
            Claim(
                "tbh-105",
                "KPU sengaja memakai kotak suara kardus agar mudah dijebol dan dicurangi",
                "hoaks",
                "https://turnbackhoax.id/contoh/kotak-kardus",
            )
        ]
    )
    [[best]] = grown.match([text])
    assert (best.claim_id, best.accepted) == ("tbh-105", True)
    assert grown.match(["Server KPU diatur di luar negeri, 57 persen"])[0][0].claim_id == "tbh-102"
    assert len(grown) == len(matcher) + 1


def test_add_with_an_existing_id_replaces_the_claim(matcher):
    bansos = Claim("tbh-102", "Bansos beras dipotong jika tidak memilih paslon", "hoaks", "")
    replaced = matcher.add([bansos])
    assert len(replaced) == len(matcher)
    [[best]] = replaced.match(["Bansos beras dipotong kalau tidak memilih paslon"])
    assert best.claim_id == "tbh-102"


def test_rebuild_from_the_claim_list_gives_the_same_matches(matcher):
    texts = ["7 kontainer surat suara tercoblos di Tanjung Priok", "server kpu 57 persen"]
    rebuilt = ClaimMatcher.build(matcher.claims)
    assert rebuilt.match(texts) == matcher.match(texts)


def test_empty_registry_is_refused():
    with pytest.raises(ValueError):
        ClaimMatcher.build([])
