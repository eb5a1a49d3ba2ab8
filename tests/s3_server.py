"""A real S3-compatible server for the tests: moto in server mode, as its own process."""

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import boto3

from pantau_devstack.servers import free_port, wait_for_port
from pantau_shared.objectstore import ObjectStoreSettings

ACCESS_KEY, SECRET_KEY = "testing-access-key", "testing-secret-key"


@contextmanager
def s3_server(bucket: str) -> Iterator[ObjectStoreSettings]:
    """Starts `moto_server` on a free port, creates `bucket`, and yields store settings for it."""
    port = free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, 60, server, "moto_server")
        settings = ObjectStoreSettings(
            url=f"s3://{bucket}/evidence",
            s3_endpoint_url=f"http://127.0.0.1:{port}",
            s3_access_key_id=ACCESS_KEY,
            s3_secret_access_key=SECRET_KEY,
        )
        boto3.session.Session().client(
            "s3",
            endpoint_url=settings.s3_endpoint_url,
            region_name="us-east-1",
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        ).create_bucket(Bucket=bucket)
        yield settings
    finally:
        server.terminate()
        server.wait(10)
