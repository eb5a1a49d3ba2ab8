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
