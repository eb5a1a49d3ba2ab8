from datetime import UTC, datetime

from pantau_shared.contract import new_id, stable_id
from pantau_shared.regions import WIB, WIT, WITA, local_time, zone_of


def test_new_ids_are_version_7_and_sort_by_creation() -> None:
    ids = [new_id() for _ in range(200)]
    assert all(i.version == 7 for i in ids)
    assert [i.bytes[:6] for i in ids] == sorted(i.bytes[:6] for i in ids)
    assert len(set(ids)) == len(ids)


def test_stable_ids_repeat_for_the_same_name_only() -> None:
    assert stable_id("bawaslu-3375", "k1") == stable_id("bawaslu-3375", "k1")
    assert stable_id("bawaslu-3375", "k1") != stable_id("bawaslu-1771", "k1")


def test_regions_map_to_their_time_zone() -> None:
    assert zone_of("33.75") is WIB  # Kota Pekalongan, Central Java
    assert zone_of("52.01") is WITA  # Lombok Barat, NTB
    assert zone_of("94.71") is WIT  # Kota Jayapura, Papua
    assert zone_of(None) is WIB


def test_local_time_shows_the_zone_people_live_in() -> None:
    moment = datetime(2024, 2, 14, 0, 30, tzinfo=UTC)
    assert local_time(moment, "33.75") == "14-02-2024 07:30 WIB"
    assert local_time(moment, "52.01") == "14-02-2024 08:30 WITA"


def test_a_shared_location_gives_the_region_it_lies_in_or_none() -> None:
    from pantau_shared.regions import region_at

    assert region_at(-6.8886, 109.6753) == "33.75"  # Kota Pekalongan, inside its regency's radius too
    assert region_at(-7.05, 109.60) == "33.26"  # Kajen, Kabupaten Pekalongan
    assert region_at(-3.79, 102.26) == "17.71"
    assert region_at(-8.59, 116.12) == "52.71"  # Mataram beats Lombok Barat around it
    assert region_at(-6.2, 106.8) is None  # Jakarta: not a known region, so no guess
    assert region_at(0.0, 0.0) is None
