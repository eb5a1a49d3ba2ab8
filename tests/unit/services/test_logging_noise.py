"""The services' logs keep the lines a person needs: no per-connection chatter of libraries."""

import logging
import socket
from collections.abc import Iterator
from email.message import EmailMessage

import aiosmtplib
import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Sink

from pantau_shared.observability import CHATTY_LOGGERS, quiet_chatty_libraries


@pytest.fixture
def quieted() -> Iterator[None]:
    levels = {name: logging.getLogger(name).level for name in CHATTY_LOGGERS}
    quiet_chatty_libraries()
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_an_incoming_mail_and_a_local_http_call_log_nothing_at_info(
    quieted: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    port = _free_port()
    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        mail = EmailMessage()
        mail["From"], mail["To"], mail["Subject"] = "warga@example.id", "lapor@example.id", "uji"
        mail.set_content("Ada serangan fajar")
        await aiosmtplib.send(mail, hostname="127.0.0.1", port=port)
    finally:
        controller.stop()
    transport = httpx.MockTransport(lambda request: httpx.Response(200))
    async with httpx.AsyncClient(transport=transport) as client:
        await client.get("http://127.0.0.1/readyz")
    chatter = [r for r in caplog.records if r.name.split(".")[0] in ("mail", "httpx", "httpcore")]
    assert chatter == []


async def test_without_quieting_the_same_calls_are_chatty(caplog: pytest.LogCaptureFixture) -> None:
    """The check above can fail: these libraries do log at INFO when left alone."""
    caplog.set_level(logging.INFO)
    transport = httpx.MockTransport(lambda request: httpx.Response(200))
    async with httpx.AsyncClient(transport=transport) as client:
        await client.get("http://127.0.0.1/readyz")
    assert any(r.name == "httpx" for r in caplog.records)
