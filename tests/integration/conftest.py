"""Fixtures of the integration tier: real servers, one service's handlers at a time."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from pantau_devstack.mailsink import MailSink
from pantau_devstack.servers import free_port
from pantau_notify.__main__ import senders
from pantau_notify.handlers import AckLinks, NotifyHandlers
from pantau_notify.settings import NotifySettings
from pantau_shared.bus import RpcClient
from pantau_shared.settings import PlatformSettings
from tests.conftest import connect
from tests.peers.dovecot import Dovecot, dovecot_binary

pytestmark = pytest.mark.integration
LINKS = AckLinks("http://127.0.0.1:8080", b"test-ack-secret")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/integration/" in str(item.path):
            item.add_marker(pytest.mark.integration)


@pytest.fixture
async def notify(platform: PlatformSettings, tmp_path: Path):
    sink = MailSink(tmp_path / "mail", free_port())
    sink.start()
    settings = NotifySettings(smtp_port=sink.port)
    infra = await connect(platform, "notify")
    handlers = NotifyHandlers(
        infra.pool, infra.outbox, settings, senders(settings), LINKS, RpcClient(infra.nc, infra.subjects)
    )
    yield infra, handlers, sink
    await handlers.close()
    await infra.close()
    sink.stop()


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    """A real IMAP server (Dovecot) for a test module's mailboxes."""
    if dovecot_binary() is None:
        pytest.skip("dovecot is not installed; run deploy/local/install-test-servers.sh")
    with Dovecot() as server:
        yield server
