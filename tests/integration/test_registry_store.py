import csv
import importlib.util
import random
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType

import pytest

from pantau_shared.infrastructure import Infrastructure
from pantau_shared.settings import PlatformSettings
from pantau_triage.registries import normalise_handle
from pantau_triage.registry_store import (
    RegisteredAccount,
    RegistryImportError,
    WatchedOfficial,
    import_accounts,
    import_officials,
    lookalikes,
    lookup,
)
from tests.conftest import connect

SCRIPT = Path(__file__).parents[2] / "services/triage/scripts/make_registry_sample.py"
ELECTIONS = {"pemilu-2024", "pilkada-2024"}


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_registry_sample", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
async def infra(platform: PlatformSettings) -> AsyncIterator[Infrastructure]:
    connected = await connect(platform, "triage")
    yield connected
    await connected.close()


@pytest.fixture(scope="module")
def lombok_barat(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, str]]]:
    generator = load_generator()
    records = generator.generate(655, 20, seed=2024, regions=("52.01",))
    path = tmp_path_factory.mktemp("registry") / "lombok_barat.csv"
    generator.write_csv(records, path)
    return path, records


@pytest.fixture(scope="module")
async def imported(infra: Infrastructure, lombok_barat: tuple[Path, list[dict[str, str]]]):
    # These tests count whole tables: start them empty, whatever other modules of the run
    # (the triage rules tests) registered before.
    await infra.pool.execute("TRUNCATE registered_accounts, watched_officials")
    return await import_accounts(infra.pool, lombok_barat[0], elections=ELECTIONS)


def handle_of(record: dict[str, str]) -> str:
    return normalise_handle(record["platform"], record["handle"] or record["url"])


async def test_imports_13100_accounts(infra: Infrastructure, imported) -> None:
    assert (imported.rows, imported.inserted, imported.updated) == (13_100, 13_100, 0)
    count = await infra.pool.fetchval("SELECT count(*) FROM registered_accounts WHERE region_code = '52.01'")
    assert count == 13_100


async def test_reimport_changes_nothing(
    infra: Infrastructure, imported, lombok_barat: tuple[Path, list[dict[str, str]]]
) -> None:
    again = await import_accounts(infra.pool, lombok_barat[0], elections=ELECTIONS)
    assert (again.rows, again.inserted, again.updated, again.unchanged) == (13_100, 0, 0, 13_100)
    assert await infra.pool.fetchval("SELECT count(*) FROM registered_accounts") == 13_100


async def test_changed_rows_are_updated_and_replace_removes_dropped_ones(
    infra: Infrastructure, tmp_path: Path
) -> None:
    header = "participant,party,election_id,region_code,platform,handle,url\n"
    first = tmp_path / "first.csv"
    first.write_text(
        header + "Baiq Nurul,PKS,pilkada-2024,52.71,instagram,@baiqnurul.mtr,\n"
        "Baiq Nurul,PKS,pilkada-2024,52.71,tiktok,@baiqnurul.mtr,\n"
    )
    assert (await import_accounts(infra.pool, first)).inserted == 2
    second = tmp_path / "second.csv"
    second.write_text(header + "Baiq Nurul,Gelora,pilkada-2024,52.71,instagram,baiqnurul.mtr,\n")
    result = await import_accounts(infra.pool, second, replace=True)
    assert (result.inserted, result.updated, result.removed) == (0, 1, 1)
    async with infra.pool.acquire() as conn:
        account = await lookup(conn, "instagram", "@BaiqNurul.MTR")
        assert isinstance(account, RegisteredAccount) and account.party == "Gelora"
        assert await lookup(conn, "tiktok", "baiqnurul.mtr") is None


async def test_bad_rows_are_listed_and_nothing_is_imported(infra: Infrastructure, tmp_path: Path) -> None:
    records = load_generator().generate(655, 20, seed=7, regions=("52.02",))
    records[99]["platform"] = "myspace"
    records[5000]["handle"], records[5000]["url"] = "", "https://www.instagram.com/p/C1a2b3/"
    records[5000]["platform"] = "instagram"
    records[13_099]["election_id"] = "pemilu-2019"
    path = tmp_path / "bad.csv"
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=list(records[0]))
        writer.writeheader()
        writer.writerows(records)
    with pytest.raises(RegistryImportError) as raised:
        await import_accounts(infra.pool, path, elections=ELECTIONS)
    # Line numbers count the header as line 1.
    assert [e.line for e in raised.value.errors] == [101, 5002, 13_101]
    assert "baris 101: platform tidak dikenal" in str(raised.value)
    assert "tidak ada yang diimpor" in str(raised.value)
    assert (
        await infra.pool.fetchval("SELECT count(*) FROM registered_accounts WHERE region_code = '52.02'") == 0
    )


async def test_lookup_finds_accounts_by_handle_or_url(
    infra: Infrastructure, imported, lombok_barat: tuple[Path, list[dict[str, str]]]
) -> None:
    record = next(r for r in lombok_barat[1] if r["platform"] == "instagram" and r["handle"])
    handle = handle_of(record)
    async with infra.pool.acquire() as conn:
        for form in (handle, "@" + handle.upper(), f"https://www.instagram.com/{handle}/"):
            account = await lookup(conn, "instagram", form)
            assert isinstance(account, RegisteredAccount)
            assert (account.participant, account.party) == (record["participant"], record["party"])
        assert await lookup(conn, "instagram", "tidak_terdaftar_sama_sekali") is None
        assert await lookup(conn, "instagram", "https://www.instagram.com/p/C1a2b3/") is None


async def test_watched_officials_import_and_lookup(infra: Infrastructure, tmp_path: Path) -> None:
    path = tmp_path / "officials.csv"
    path.write_text(
        "name,role,institution,region_code,platform,handle,url\n"
        "Ahmad Zaini,Kepala Desa,Desa Gerung Utara,52.01.05.2001,facebook,,"
        "https://www.facebook.com/ahmad.zaini.kades\n"
        "Siti Aminah,asn,Dinas Pendidikan,52.01,tiktok,@siti.aminah.asn,\n"
    )
    result = await import_officials(infra.pool, path)
    assert (result.inserted, (await import_officials(infra.pool, path)).unchanged) == (2, 2)
    async with infra.pool.acquire() as conn:
        official = await lookup(conn, "fb", "ahmadzainikades")
        assert isinstance(official, WatchedOfficial)
        assert (official.role, official.institution) == ("kepala_desa", "Desa Gerung Utara")
    bad = tmp_path / "bad_officials.csv"
    bad.write_text(
        "name,role,institution,region_code,platform,handle,url\n"
        "Budi,camat,Kecamatan Gerung,52.01,instagram,@budi.camat,\n"
    )
    with pytest.raises(RegistryImportError, match="baris 2: peran"):
        await import_officials(infra.pool, bad)


def imitations(handle: str) -> list[str]:
    swapped = handle.replace("o", "0", 1) if "o" in handle else handle.replace("a", "4", 1)
    doubled = handle[:3] + handle[2] + handle[3:]
    return [f"{handle.replace('.', '_')}_official", swapped, doubled, f"real.{handle}"]


async def test_lookalikes_are_found_among_13100(
    infra: Infrastructure, imported, lombok_barat: tuple[Path, list[dict[str, str]]]
) -> None:
    rng = random.Random(5)
    instagram = [r for r in lombok_barat[1] if r["platform"] == "instagram"]
    registered = {handle_of(r) for r in instagram}
    hits = misses = 0
    async with infra.pool.acquire() as conn:
        for record in rng.sample(instagram, 60):
            for fake in imitations(handle_of(record)):
                fake = fake[:30]
                if fake in registered:
                    continue
                found = await lookalikes(conn, "instagram", fake)
                if record["participant"] in [m.account.participant for m in found[:3]]:
                    hits += 1
                else:
                    misses += 1
        assert misses <= 0.05 * (hits + misses), (hits, misses)

        [top, *_] = await lookalikes(conn, "instagram", "wardani_yamin_0fficial")
        assert top.account.participant == "Hj. Wardani Yamin"
        assert top.reason.startswith("Mirip akun resmi @") and "(PKB)" in top.reason
        assert top.score >= 0.9

        # A registered handle is no look-alike of itself; unrelated handles find nothing.
        assert await lookalikes(conn, "instagram", handle_of(instagram[0])) == []
        for unrelated in ("infolomboktimur", "kuliner_mataram", "jalanjalan.ntb", "xq"):
            assert await lookalikes(conn, "instagram", unrelated) == []


async def test_same_handle_on_an_unregistered_platform_is_reported(
    infra: Infrastructure, imported, lombok_barat: tuple[Path, list[dict[str, str]]]
) -> None:
    taken = {(r["platform"], handle_of(r)) for r in lombok_barat[1]}
    record = next(
        r
        for r in lombok_barat[1]
        if r["platform"] == "instagram"
        and ("x", handle_of(r)) not in taken
        and len(handle_of(r)) <= 15
        and "." not in handle_of(r)
    )
    async with infra.pool.acquire() as conn:
        [top, *_] = await lookalikes(conn, "x", handle_of(record))
    assert top.account.participant == record["participant"]
    assert "di Instagram" in top.reason and "tidak terdaftar di platform ini" in top.reason
