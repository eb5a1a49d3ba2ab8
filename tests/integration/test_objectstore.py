"""The object store: the filesystem one and the S3 one against a real S3-compatible server."""

import hashlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from pantau_shared.objectstore import (
    Corrupted,
    FilesystemStore,
    Missing,
    ObjectStore,
    ObjectStoreSettings,
    S3Store,
    key_of,
    open_store,
)
from tests.s3_server import s3_server


@pytest.fixture(scope="module")
def s3_settings() -> Iterator[ObjectStoreSettings]:
    with s3_server("pantau-objects") as settings:
        yield settings


@pytest.fixture(params=["filesystem", "s3"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ObjectStore]:
    if request.param == "filesystem":
        yield open_store(ObjectStoreSettings(url=f"file://{tmp_path}/evidence"))
    else:
        yield open_store(request.getfixturevalue("s3_settings"))


async def test_content_addressed_round_trip(store: ObjectStore) -> None:
    data = b"<html>bukti</html>" * 100
    stored = await store.put(data, "text/html")
    assert stored.sha256 == hashlib.sha256(data).hexdigest() and stored.size == len(data)
    assert await store.exists(stored.sha256)
    assert await store.get(stored.sha256) == data
    again = await store.put(data, "text/html")
    assert again == stored
    await store.delete(stored.sha256)
    assert not await store.exists(stored.sha256)
    with pytest.raises(Missing):
        await store.get(stored.sha256)


async def test_filesystem_refuses_bytes_changed_on_disk(tmp_path: Path) -> None:
    store = FilesystemStore(tmp_path)
    stored = await store.put(b"tangkapan layar")
    (tmp_path / key_of(stored.sha256)).write_bytes(b"tangkapan layar palsu")
    with pytest.raises(Corrupted):
        await store.get(stored.sha256)


async def test_s3_refuses_bytes_changed_in_the_bucket(s3_settings: ObjectStoreSettings) -> None:
    store = S3Store.from_settings(s3_settings)
    stored = await store.put(b"arsip warc")
    store._client.put_object(Bucket=store.bucket, Key=store._key(stored.sha256), Body=b"diganti")
    with pytest.raises(Corrupted):
        await store.get(stored.sha256)


def test_keys_are_hashes_only() -> None:
    with pytest.raises(ValueError):
        key_of("../../etc/passwd")
    with pytest.raises(ValueError):
        open_store(ObjectStoreSettings(url="ftp://x/y"))
