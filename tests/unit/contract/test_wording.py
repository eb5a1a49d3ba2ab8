"""The words people read: excerpts, names for ids, numbers to quote."""

import pytest

from pantau_shared.wording import agency_name, excerpt, number, platform_label, team_label

TEXT = "Besok pagi serangan fajar di Kelurahan Podosugih https://www.facebook.com/groups/123/posts/456 tiap"


@pytest.mark.parametrize("limit", range(8, len(TEXT) + 5))
def test_an_excerpt_ends_on_a_whole_word_or_link_and_marks_the_cut(limit: int) -> None:
    cut = excerpt(TEXT, limit)
    assert len(cut) <= limit
    if len(TEXT) <= limit:
        assert cut == TEXT
        return
    assert cut.endswith("…")
    kept = cut.removesuffix("…")
    assert TEXT.startswith(kept) and TEXT[len(kept)] == " "
    assert "https://" not in kept or "posts/456" in kept


def test_an_excerpt_of_one_long_link_is_cut_inside_it_but_marked() -> None:
    link = "https://example.com/" + "a" * 300
    assert excerpt(link, 50) == link[:49] + "…"
    assert excerpt(None, 10) == "" and excerpt("  banyak   spasi  ", 40) == "banyak spasi"


def test_names_where_ids_would_show() -> None:
    assert (
        agency_name("bawaslu-3375", {"bawaslu-3375": "Bawaslu Kota Pekalongan"}) == "Bawaslu Kota Pekalongan"
    )
    assert agency_name("bawaslu-3375", {}) == "Bawaslu wilayah 33.75"
    assert agency_name("diskominfo-33", {}) == "Diskominfo wilayah 33"
    assert agency_name("komdigi", {}) == "Komdigi"
    assert team_label("Tim Patroli Siber") == "Tim Patroli Siber"
    assert team_label("Patroli siber") == "tim Patroli siber"
    assert team_label(None) == "tim patroli"
    assert platform_label("unknown") == "tidak diketahui" and platform_label("x") == "X (Twitter)"
    assert number("2152f563-1c2d-7e3f-8a9b-0c1d2e3f4a5b") == "2152F563-4A5B"
    # Two ids of the same minute share the time group; the number still tells them apart.
    assert number("2152f563-1c2d-7e3f-8a9b-0c1d2e3f4a5b") != number("2152f563-9d0e-7e3f-8a9b-0c1d2e3f9c01")
