import io

import pytest

from pantau_triage.registries import (
    HandleError,
    edit_distance,
    handle_from_url,
    normalise_handle,
    normalise_platform,
    parse_accounts,
    parse_officials,
    resemblance,
    skeleton,
)

HEADER = "participant,party,election_id,region_code,platform,handle,url\n"


@pytest.mark.parametrize(
    ("platform", "value", "expected"),
    [
        ("instagram", "@BudiSantoso", "budisantoso"),
        ("instagram", " budi.santoso ", "budi.santoso"),
        ("instagram", "https://www.instagram.com/Budi.Santoso/", "budi.santoso"),
        ("instagram", "instagram.com/budisantoso?igsh=abc", "budisantoso"),
        ("instagram", "https://www.instagram.com/stories/budisantoso/123/", "budisantoso"),
        ("x", "https://twitter.com/Budi_S", "budi_s"),
        ("x", "https://x.com/budi_s/status/1750000000000000000", "budi_s"),
        ("x", "mobile.twitter.com/budi_s", "budi_s"),
        ("tiktok", "https://www.tiktok.com/@budi.santoso/video/7300000000000000000", "budi.santoso"),
        ("tiktok", "@Budi.Santoso", "budi.santoso"),
        ("facebook", "https://www.facebook.com/profile.php?id=100012345678", "id:100012345678"),
        ("facebook", "https://m.facebook.com/Budi.Santoso.52", "budisantoso52"),
        ("facebook", "budi.santoso", "budisantoso"),  # Facebook ignores dots in usernames
        ("facebook", "https://www.facebook.com/people/Budi-Santoso/100012345678/", "id:100012345678"),
        ("youtube", "https://www.youtube.com/@BudiSantoso", "budisantoso"),
        (
            "youtube",
            "https://youtube.com/channel/UCabcdefghijklmnopqrstuv",
            "channel:UCabcdefghijklmnopqrstuv",
        ),
        ("telegram", "https://t.me/BudiSantoso", "budisantoso"),
    ],
)
def test_handles_are_normalised_per_platform(platform: str, value: str, expected: str) -> None:
    assert normalise_handle(platform, value) == expected


@pytest.mark.parametrize(
    ("platform", "value", "message"),
    [
        ("instagram", "https://www.instagram.com/p/C1a2b3c4/", "bukan halaman profil"),
        ("instagram", "https://x.com/budisantoso", "bukan akun Instagram"),
        ("x", "budi.santoso", "tidak sah untuk X"),
        ("x", "budisantoso_official_2024", "maks. 15"),
        ("facebook", "https://www.facebook.com/groups/123/posts/456", "bukan halaman profil"),
        ("instagram", "  ", "akun kosong"),
        ("instagram", "https://example.com/budi", "platform yang dikenal"),
    ],
)
def test_bad_handles_are_refused_in_indonesian(platform: str, value: str, message: str) -> None:
    with pytest.raises(HandleError, match=message):
        normalise_handle(platform, value)


def test_platform_aliases() -> None:
    assert normalise_platform(" Twitter ") == "x"
    assert normalise_platform("IG") == "instagram"
    with pytest.raises(HandleError, match="platform tidak dikenal"):
        normalise_platform("myspace")


def test_handle_from_url_names_the_author_only_when_the_url_does() -> None:
    assert handle_from_url("https://x.com/Budi_S/status/1") == ("x", "budi_s")
    assert handle_from_url("https://www.tiktok.com/@budi.s/video/1") == ("tiktok", "budi.s")
    assert handle_from_url("https://www.instagram.com/reel/C1a2b3c4/") is None
    assert handle_from_url("https://kompas.com/berita") is None


@pytest.mark.parametrize(
    "imitation",
    [
        "budi_santoso_official",
        "budisantoso.official",
        "budisantosoofficial",
        "realbudisantoso",
        "budisant0so",
        "budi5antoso",
        "budlsantoso",
        "budi.santoso",
        "b.u.d.i_santoso",
        "budiisantoso",
        "budisantosoo",
        "buddisantoso",
        "budi_santoso_id",
        "budisantoso_asli",
        "budisantoso2024",
        "budisantoso.resmi",
        "official.budisantoso",
        "budisantoso_fans",
        "budi\u0455antoso",  # Cyrillic dze in place of the s
    ],
)
def test_skeleton_folds_imitations_onto_the_registered_handle(imitation: str) -> None:
    assert skeleton(imitation) == skeleton("budisantoso")
    found = resemblance(imitation, "budisantoso")
    assert found is not None and found.kind == "skeleton" and found.score >= 0.9


@pytest.mark.parametrize(
    ("imitation", "kind"),
    [
        ("budisamtoso", "edit"),  # one letter replaced
        ("budisnatoso", "edit"),  # two letters swapped
        ("budisantos", "edit"),  # one letter dropped
        ("budisantosokawal", "contains"),
        ("budisantoso_lobar", "contains"),
    ],
)
def test_near_misses_are_look_alikes(imitation: str, kind: str) -> None:
    found = resemblance(imitation, "budisantoso")
    assert found is not None and found.kind == kind and 0.7 <= found.score < 0.95


@pytest.mark.parametrize(
    ("candidate", "registered"),
    [
        ("budisantoso", "budisantoso"),  # the account itself
        ("budiharto", "budisantoso"),  # another person
        ("santosobudi", "budisantoso"),
        ("budisantoso", "isantoso"),  # holds another candidate's short handle, not at the start
        ("andy", "andi"),  # too short to call
        ("rasyid", "rasy"),  # "id" glued to a name is part of the name
        ("siti.aminah", "siti.rahmah"),
        ("kpu_ri", "kpu_lobar"),
    ],
)
def test_different_handles_are_not_look_alikes(candidate: str, registered: str) -> None:
    assert resemblance(candidate, registered) is None


def test_numeric_profiles_have_no_skeleton() -> None:
    assert skeleton("id:100012345678") == ""
    assert resemblance("id:100012345679", "id:100012345678") is None


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [("", "", 0), ("abc", "", 3), ("kitten", "sitting", 3), ("budi", "bdui", 1), ("abc", "abc", 0)],
)
def test_edit_distance(a: str, b: str, distance: int) -> None:
    assert edit_distance(a, b) == distance


def test_parse_accounts_reads_handles_urls_and_semicolons() -> None:
    text = (
        "\ufeffparticipant;party;election_id;region_code;platform;handle;url\n"
        "Lalu Budi Santoso;PKB;pemilu-2024;52.01;Instagram;@BudiSantoso;\n"
        "Lalu Budi Santoso;PKB;pemilu-2024;52.01;twitter;;https://twitter.com/budi_s\n"
        "\n"
        "Lalu Budi Santoso;PKB;pemilu-2024;52.01;instagram;budisantoso;\n"
    )  # kept once
    parsed = parse_accounts(io.StringIO(text.removeprefix("\ufeff")))
    assert parsed.errors == []
    assert [(r.platform, r.handle, r.line) for r in parsed.rows] == [
        ("instagram", "budisantoso", 2),
        ("x", "budi_s", 3),
    ]


def test_parse_accounts_reports_every_bad_row_with_its_line() -> None:
    text = (
        HEADER
        + "\n".join(
            [
                "Budi,PKB,pemilu-2024,52.01,instagram,@budi.ok,",
                "Budi,PKB,pemilu-2099,52.01,instagram,@budi2,",
                "Budi,PKB,pemilu-2024,52.01,myspace,@budi3,",
                ",PKB,pemilu-2024,52.01,instagram,@budi4,",
                "Budi,PKB,pemilu-2024,52-01,instagram,@budi5,",
                "Budi,PKB,pemilu-2024,52.01,instagram,,",
                "Budi,PKB,pemilu-2024,52.01,instagram,@budi7,https://www.instagram.com/lain/",
                "Siti,PKS,pemilu-2024,52.01,instagram,@budi.ok,",
                "Budi,PKB,pemilu-2024,52.01,instagram,@budi9,,extra",
            ]
        )
        + "\n"
    )
    parsed = parse_accounts(io.StringIO(text), elections={"pemilu-2024"})
    assert [r.handle for r in parsed.rows] == ["budi.ok"]
    assert [(e.line, e.reason.split(" ")[0]) for e in parsed.errors] == [
        (3, "election_id"),
        (4, "platform"),
        (5, "kolom"),
        (6, "region_code"),
        (7, "handle"),
        (8, "handle"),
        (9, "akun"),
        (10, "8"),
    ]
    assert str(parsed.errors[-2]) == (
        "baris 9: akun instagram @budi.ok sudah tercantum di baris 2 untuk pemilik lain"
    )


def test_parse_accounts_enforces_twenty_accounts_per_platform() -> None:
    rows = [f"Budi,PKB,pemilu-2024,52.01,tiktok,@budi.{n},\n" for n in range(21)]
    parsed = parse_accounts(io.StringIO(HEADER + "".join(rows)))
    assert len(parsed.rows) == 20
    assert [(e.line, "batas KPU" in e.reason) for e in parsed.errors] == [(22, True)]


def test_parse_accounts_needs_the_columns() -> None:
    parsed = parse_accounts(io.StringIO("nama,platform\nBudi,instagram\n"))
    assert [str(e) for e in parsed.errors] == [
        "baris 1: kolom tidak ada: participant, election_id, handle/url"
    ]


def test_parse_officials() -> None:
    text = (
        "name,role,institution,region_code,platform,handle,url\n"
        "Ahmad Zaini,Kepala Desa,Desa Gerung Utara,52.01.05.2001,facebook,ahmad.zaini.kades,\n"
        "Siti Aminah,guru honorer,SDN 1 Gerung,52.01,instagram,@sitiaminah,\n"
    )
    parsed = parse_officials(io.StringIO(text))
    assert [(r.role, r.handle) for r in parsed.rows] == [("kepala_desa", "ahmadzainikades")]
    assert [e.line for e in parsed.errors] == [3]
    assert "peran" in parsed.errors[0].reason
