"""Evidence bytes, content-addressed by SHA-256, behind one interface.

`FilesystemStore` (the default: a directory, for one machine and the dev stack) and `S3Store`
(any S3-compatible service: AWS S3, MinIO, Ceph, a cloud provider's object storage) keep the same
keys, `sha256/<2 hex>/<64 hex>`, so a deployment can move between them by copying. The same
bytes are stored once; reads re-hash and refuse bytes that no longer match their name.
"""

import asyncio
import base64
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from pydantic import BaseModel, SecretStr

__all__ = [
    "Corrupted",
    "FilesystemStore",
    "Missing",
    "ObjectStore",
    "ObjectStoreSettings",
    "S3Store",
    "Stored",
    "open_store",
]


class Missing(KeyError):
    """No object under this hash."""


class Corrupted(Exception):
    """The bytes under a hash no longer hash to it."""


@dataclass(frozen=True)
class Stored:
    sha256: str
    size: int


class ObjectStore(Protocol):
    async def put(self, data: bytes, content_type: str = "application/octet-stream") -> Stored: ...

    async def get(self, sha256: str) -> bytes: ...

    async def exists(self, sha256: str) -> bool: ...

    async def delete(self, sha256: str) -> None: ...


class ObjectStoreSettings(BaseModel):
    """Where evidence is kept: `file:///var/lib/pantau/evidence` or `s3://bucket/prefix`."""

    url: str = "file://.pantau/evidence"
    # S3-compatible storage: the service's address (unset: AWS itself), region and keys.
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    s3_access_key_id: SecretStr | None = None
    s3_secret_access_key: SecretStr | None = None


def key_of(sha256: str) -> str:
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise ValueError(f"not a SHA-256 in hex: {sha256!r}")
    return f"sha256/{sha256[:2]}/{sha256}"


def _checked(sha256: str, data: bytes) -> bytes:
    if hashlib.sha256(data).hexdigest() != sha256:
        raise Corrupted(f"object {sha256} does not match its hash")
    return data


class FilesystemStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, sha256: str) -> Path:
        return self.root / key_of(sha256)

    def _put(self, data: bytes, sha256: str) -> None:
        path = self._path(sha256)
        if path.exists():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written aside and renamed: a reader never sees half an object.
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    async def put(self, data: bytes, content_type: str = "application/octet-stream") -> Stored:
        sha256 = hashlib.sha256(data).hexdigest()
        await asyncio.to_thread(self._put, data, sha256)
        return Stored(sha256, len(data))

    async def get(self, sha256: str) -> bytes:
        try:
            data = await asyncio.to_thread(self._path(sha256).read_bytes)
        except FileNotFoundError as error:
            raise Missing(sha256) from error
        return _checked(sha256, data)

    async def exists(self, sha256: str) -> bool:
        return await asyncio.to_thread(self._path(sha256).exists)

    async def delete(self, sha256: str) -> None:
        await asyncio.to_thread(self._path(sha256).unlink, True)


class S3Store:
    """boto3 in worker threads: its clients are thread-safe, and the calls are few and large."""

    def __init__(self, bucket: str, prefix: str, client: Any) -> None:
        self.bucket = bucket
        self._prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self._client = client

    @classmethod
    def from_settings(cls, settings: ObjectStoreSettings) -> "S3Store":
        parts = urlsplit(settings.url)
        client = boto3.session.Session().client(
            "s3",
            endpoint_url=settings.s3_endpoint_url,
            region_name=settings.s3_region,
            aws_access_key_id=_secret(settings.s3_access_key_id),
            aws_secret_access_key=_secret(settings.s3_secret_access_key),
            config=Config(retries={"max_attempts": 3, "mode": "standard"}, s3={"addressing_style": "path"}),
        )
        return cls(parts.netloc, parts.path, client)

    def _key(self, sha256: str) -> str:
        return self._prefix + key_of(sha256)

    async def put(self, data: bytes, content_type: str = "application/octet-stream") -> Stored:
        sha256 = hashlib.sha256(data).hexdigest()
        if not await self.exists(sha256):
            await asyncio.to_thread(
                self._client.put_object,
                Bucket=self.bucket,
                Key=self._key(sha256),
                Body=data,
                ContentType=content_type,
                ChecksumSHA256=_base64_sha256(data),
            )
        return Stored(sha256, len(data))

    async def get(self, sha256: str) -> bytes:
        try:
            answer = await asyncio.to_thread(
                self._client.get_object, Bucket=self.bucket, Key=self._key(sha256)
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise Missing(sha256) from error
            raise
        data: bytes = await asyncio.to_thread(answer["Body"].read)
        return _checked(sha256, data)

    async def exists(self, sha256: str) -> bool:
        try:
            await asyncio.to_thread(self._client.head_object, Bucket=self.bucket, Key=self._key(sha256))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                return False
            raise
        return True

    async def delete(self, sha256: str) -> None:
        await asyncio.to_thread(self._client.delete_object, Bucket=self.bucket, Key=self._key(sha256))


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


def _base64_sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")


def open_store(settings: ObjectStoreSettings) -> ObjectStore:
    parts = urlsplit(settings.url)
    if parts.scheme == "file":
        return FilesystemStore(Path(parts.netloc + parts.path))
    if parts.scheme == "s3":
        return S3Store.from_settings(settings)
    raise ValueError(f"object store URL {settings.url!r}: use file://… or s3://bucket/prefix")
