from pantau_triage.matching.canonical import canonical_text, content_key

ORIGINAL = "Besok TPS 12 Kelurahan Sukamaju dipindah ke balai desa. Jangan sampai salah datang!"


def test_forward_headers_and_footers_are_dropped():
    forwarded = (
        "*Diteruskan*\n"
        "Forwarded many times\n"
        "‼️ INFO PENTING ‼️\n"
        "Besok TPS 12 Kelurahan Sukamaju dipindah ke balai desa.\n"
        "Jangan sampai salah datang!\n\n"
        "Sumber: grup WA RT 05\n"
        "Sebarkan!!"
    )
    assert canonical_text(forwarded) == canonical_text(ORIGINAL)


def test_inline_prefixes_are_dropped():
    assert canonical_text("Fwd: Fwd: *PENTIIING*: " + ORIGINAL) == canonical_text(ORIGINAL)


def test_emoji_links_mentions_case_and_spacing_are_dropped():
    noisy = (
        "🔥🔥 BESOK   TPS 12 kelurahan SUKAMAJU dipindah ke balai desa!!! 😱\n\n"
        "jangan sampai salah datang @pak_rt https://bit.ly/3tpsPindah kompas.com"
    )
    assert canonical_text(noisy) == canonical_text(ORIGINAL)


def test_words_and_numbers_are_kept():
    text = "Ada 1000 amplop untuk warga, bagi-bagi uang Rp50.000 per kepala."
    assert canonical_text(text) == "ada 1000 amplop untuk warga bagi bagi uang rp50 000 per kepala"


def test_wrapper_words_inside_the_body_are_content():
    text = "Bawaslu minta warga tidak meneruskan pesan ini.\nPenting: cek dulu faktanya."
    assert "penting" in canonical_text(text).split()


def test_chat_spellings_become_the_word():
    assert canonical_text("Jgn pilih yg bagi2 amplop dgn uang") == (
        "jangan pilih yang bagi2 amplop dengan uang"
    )


def test_content_key_equal_for_reformatted_copy_and_differs_for_other_text():
    reformatted = "Diteruskan\n" + ORIGINAL.upper() + " 👇👇"
    assert content_key(reformatted) == content_key(ORIGINAL)
    assert content_key(ORIGINAL.replace("12", "13")) != content_key(ORIGINAL)
    assert len(content_key(ORIGINAL)) == 64


def test_message_of_only_wrappers_is_empty():
    assert canonical_text("Diteruskan\n*PENTING*\nSebarkan!") == ""
