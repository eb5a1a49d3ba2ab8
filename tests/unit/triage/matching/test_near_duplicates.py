import numpy as np
import pytest

from pantau_triage.matching.minhash import (
    BANDS,
    SIMILARITY_THRESHOLD,
    Fingerprint,
    band_keys,
    fingerprint,
    fingerprints,
    similarity,
)
from pantau_triage.matching.near_duplicates import NearDuplicateIndex, is_near_duplicate

HOAX = (
    "Beredar kabar surat suara sudah dicoblos untuk paslon nomor 2 di gudang KPU Kabupaten "
    "Karanganyar. Petugas KPPS diminta diam dan tidak melapor ke Bawaslu. Warga diminta "
    "mengawasi gudang logistik malam ini juga."
)
FORWARDS = [
    "Diteruskan\n*PENTING*\n" + HOAX + "\n\nSumber: grup WA alumni",
    "🔥🔥 " + HOAX.upper() + " 😡😡 https://bit.ly/3gudangKPU",
    "copas dari grup sebelah\n" + HOAX.replace(". ", ".\n\n") + "\nSebarkan!!",
    HOAX.replace("yang", "yg").replace("tidak", "gak") + "\nHati-hati ya bapak ibu.",
    # a forward that lost its last sentence
    HOAX.rsplit(". ", 1)[0],
]
SAME_TOPIC_DIFFERENT_MESSAGES = [
    "KPU Kabupaten Karanganyar membantah kabar surat suara tercoblos di gudang logistik. "
    "Seluruh surat suara masih tersegel dan diawasi Bawaslu serta kepolisian.",
    "Bawaslu Karanganyar menerima laporan warga soal gudang logistik KPU dan akan menurunkan "
    "pengawas untuk memeriksa segel kotak suara besok pagi.",
    "Warga Karanganyar diminta tidak mudah percaya pesan berantai tentang surat suara. "
    "Laporkan ke Bawaslu bila melihat pelanggaran di gudang KPU.",
]


def _fp(text: str) -> Fingerprint:
    fp = fingerprint(text)
    assert fp is not None
    return fp


@pytest.mark.parametrize("forward", FORWARDS)
def test_whatsapp_forwards_are_near_duplicates(forward):
    assert similarity(_fp(HOAX), _fp(forward)) >= SIMILARITY_THRESHOLD
    assert is_near_duplicate(_fp(HOAX), _fp(forward))


@pytest.mark.parametrize("other", SAME_TOPIC_DIFFERENT_MESSAGES)
def test_different_messages_on_the_same_topic_are_not_merged(other):
    assert not is_near_duplicate(_fp(HOAX), _fp(other))


def test_index_finds_forwards_and_not_same_topic_messages():
    index = NearDuplicateIndex(merge_every=3)
    index.add("hoax", _fp(HOAX))
    for number, other in enumerate(SAME_TOPIC_DIFFERENT_MESSAGES):
        index.add(f"other-{number}", _fp(other))
    for forward in FORWARDS:
        hits = index.query(_fp(forward))
        assert [hit.item_id for hit in hits] == ["hoax"]


def test_index_scores_a_reformatted_repost_as_identical():
    index = NearDuplicateIndex()
    index.add("first", _fp(HOAX))
    hits = index.query(_fp("Forwarded\n" + HOAX))
    assert hits[0].item_id == "first"
    assert hits[0].similarity == 1.0


def test_fingerprint_round_trip_through_bytes_reproduces_similarity():
    original, forward = _fp(HOAX), _fp(FORWARDS[1])
    stored = Fingerprint.from_bytes(original.content_key, original.to_bytes())
    assert len(original.to_bytes()) == 4 * len(original.signature)
    assert np.array_equal(stored.signature, original.signature)
    assert stored.band_keys == original.band_keys
    assert similarity(stored, forward) == similarity(original, forward)


def test_from_bytes_rejects_a_signature_of_another_size():
    with pytest.raises(ValueError):
        Fingerprint.from_bytes("key", b"\x00" * 12)


def test_band_keys_are_signed_64_bit_and_one_per_band():
    keys = _fp(HOAX).band_keys
    assert len(keys) == BANDS
    assert all(-(2**63) <= key < 2**63 for key in keys)
    assert any(key < 0 for fp in fingerprints(FORWARDS) if fp for key in fp.band_keys)


def test_band_keys_are_a_function_of_the_signature():
    fp = _fp(HOAX)
    assert band_keys(fp.signature) == fp.band_keys


def test_batch_and_single_fingerprints_agree():
    batch = fingerprints([HOAX, "terlalu pendek", *FORWARDS])
    assert batch[1] is None
    for text, fp in zip([HOAX, *FORWARDS], [batch[0], *batch[2:]], strict=True):
        assert fp is not None
        assert np.array_equal(fp.signature, _fp(text).signature)


def test_short_text_has_no_fingerprint():
    assert fingerprint("Cek ini hoaks?") is None


def test_bulk_load_answers_like_one_at_a_time():
    texts = [HOAX, *SAME_TOPIC_DIFFERENT_MESSAGES]
    one_by_one, bulk = NearDuplicateIndex(), NearDuplicateIndex()
    for number, text in enumerate(texts):
        one_by_one.add(str(number), _fp(text))
    bulk.add_many([(str(number), _fp(text)) for number, text in enumerate(texts)])
    for forward in FORWARDS:
        assert bulk.query(_fp(forward)) == one_by_one.query(_fp(forward))
        assert [hit.item_id for hit in bulk.query(_fp(forward))] == ["0"]
