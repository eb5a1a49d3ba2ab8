"""The categories of election content that agencies act on, with the law each one rests on.

Citations follow UU 7/2017 (Pemilu) and UU 1/2024 (second amendment of UU ITE). They are shown to
patrol teams as a pointer, not as legal advice; a supervisor confirms the article before a finding.
"""

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class Category(StrEnum):
    HOAKS = "hoaks"
    UJARAN_KEBENCIAN = "ujaran_kebencian"
    SARA = "sara"
    HASUTAN = "hasutan"
    POLITIK_UANG = "politik_uang"
    NETRALITAS_ASN = "netralitas_asn"
    KAMPANYE_LUAR_JADWAL = "kampanye_luar_jadwal"
    PENGHINAAN = "penghinaan"


class CategoryInfo(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: Category
    label: str
    description: str
    legal_basis: tuple[str, ...]
    # 1 (lowest) to 5: how much harm an unhandled item does; feeds the case priority.
    severity: int
    # Election violations go to Bawaslu; content takedowns to Komdigi.
    handled_by: tuple[str, ...]


TAXONOMY: dict[Category, CategoryInfo] = {
    info.id: info
    for info in (
        CategoryInfo(
            id=Category.HOAKS,
            label="Hoaks",
            description="Informasi palsu atau menyesatkan tentang pemilu, peserta, atau penyelenggara",
            legal_basis=("UU 1/2024 Pasal 28 ayat (1) dan (3)", "UU 7/2017 Pasal 280 ayat (1)"),
            severity=4,
            handled_by=("komdigi", "bawaslu"),
        ),
        CategoryInfo(
            id=Category.UJARAN_KEBENCIAN,
            label="Ujaran kebencian",
            description="Ujaran kebencian terhadap orang atau kelompok",
            legal_basis=("UU 7/2017 Pasal 280 ayat (1) huruf c", "UU 1/2024 Pasal 28 ayat (2)"),
            severity=4,
            handled_by=("bawaslu", "komdigi"),
        ),
        CategoryInfo(
            id=Category.SARA,
            label="SARA",
            description="Penghinaan atau kebencian berdasarkan suku, agama, ras, dan antargolongan",
            legal_basis=("UU 7/2017 Pasal 280 ayat (1) huruf c", "UU 1/2024 Pasal 28 ayat (2)"),
            severity=5,
            handled_by=("bawaslu", "komdigi"),
        ),
        CategoryInfo(
            id=Category.HASUTAN,
            label="Hasutan",
            description="Menghasut, mengadu domba, atau mengancam kekerasan",
            legal_basis=("UU 7/2017 Pasal 280 ayat (1) huruf d dan f",),
            severity=5,
            handled_by=("bawaslu", "komdigi"),
        ),
        CategoryInfo(
            id=Category.POLITIK_UANG,
            label="Politik uang",
            description="Menjanjikan atau memberikan uang atau barang kepada pemilih",
            legal_basis=("UU 7/2017 Pasal 280 ayat (1) huruf j", "UU 7/2017 Pasal 523"),
            severity=4,
            handled_by=("bawaslu",),
        ),
        CategoryInfo(
            id=Category.NETRALITAS_ASN,
            label="Netralitas ASN dan perangkat desa",
            description="ASN, kepala desa, atau perangkat desa berpihak kepada peserta pemilu",
            legal_basis=("UU 7/2017 Pasal 280 ayat (2) dan (3)", "UU 7/2017 Pasal 494"),
            severity=3,
            handled_by=("bawaslu",),
        ),
        CategoryInfo(
            id=Category.KAMPANYE_LUAR_JADWAL,
            label="Kampanye di luar jadwal",
            description="Kampanye di luar masa kampanye, terutama pada masa tenang",
            legal_basis=("UU 7/2017 Pasal 276", "UU 7/2017 Pasal 492"),
            severity=3,
            handled_by=("bawaslu",),
        ),
        CategoryInfo(
            id=Category.PENGHINAAN,
            label="Penghinaan",
            description="Menghina atau mencemarkan nama baik peserta pemilu",
            legal_basis=("UU 7/2017 Pasal 280 ayat (1) huruf c",),
            severity=2,
            handled_by=("bawaslu",),
        ),
    )
}
