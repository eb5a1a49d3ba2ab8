"""Request/reply against real NATS: a caller keeps asking, within its deadline, until answered."""

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID

import nats
import pytest
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from pantau_shared.bus import NotFound, RpcClient, RpcError
from pantau_shared.bus.rpc import Answer, RetryPolicy, serve
from pantau_shared.contract import Subjects, new_id
from pantau_shared.contract.rpc import (
    NOTIFICATION_ACK,
    REPORTER_CONTACT,
    Acknowledged,
    AcknowledgeNotification,
    ErrorCode,
    ReporterContact,
    ReporterQuery,
)
from pantau_shared.settings import PlatformSettings

QUICK = RetryPolicy(attempt_timeout_s=0.3, deadline_s=5.0, first_pause_s=0.02, max_pause_s=0.2)


@pytest.fixture
async def nc(platform: PlatformSettings) -> AsyncIterator[NATS]:
    connection = await nats.connect(platform.nats_url)
    yield connection
    await connection.close()


@pytest.fixture
def subjects(platform: PlatformSettings) -> Subjects:
    return Subjects(platform.subject_root)


@asynccontextmanager
async def answering(nc: NATS, subjects: Subjects, row: Answer[Any, Any]) -> AsyncIterator[None]:
    subscriptions = await serve(nc, subjects, "test", [row])
    try:
        yield
    finally:
        for subscription in subscriptions:
            await subscription.unsubscribe()


async def test_a_query_waits_for_a_responder_that_starts_late(
    nc: NATS, subjects: Subjects, agency: str
) -> None:
    asked: list[str] = []

    async def contact(agency_id: str, query: ReporterQuery) -> ReporterContact:
        asked.append(query.reporter_id)
        return ReporterContact(wants_updates=True)

    client = RpcClient(nc, subjects, QUICK)
    call = asyncio.create_task(client.call(agency, REPORTER_CONTACT, ReporterQuery(reporter_id="rep_1")))
    await asyncio.sleep(0.5)  # the caller meets "no responders" meanwhile
    assert not call.done()
    async with answering(nc, subjects, Answer(REPORTER_CONTACT, contact)):
        answer = await asyncio.wait_for(call, timeout=10)
    assert answer == ReporterContact(wants_updates=True)
    assert asked == ["rep_1"]


async def test_a_command_whose_request_was_dropped_is_sent_again_with_its_command_id(
    nc: NATS, subjects: Subjects, agency: str
) -> None:
    received: list[UUID] = []
    row = Answer(NOTIFICATION_ACK, acknowledge)

    async def drop_the_first(message: Msg) -> None:
        received.append(AcknowledgeNotification.model_validate_json(message.data).command_id)
        if len(received) > 1:
            await message.respond(await row.reply(agency, message.data))

    subscription = await nc.subscribe(subjects.rpc_filter(NOTIFICATION_ACK.name), cb=drop_the_first)
    command = AcknowledgeNotification(delivery_id=new_id(), actor="Petugas Patroli", principal="key:ab12")
    try:
        answer = await RpcClient(nc, subjects, QUICK).call(agency, NOTIFICATION_ACK, command)
    finally:
        await subscription.unsubscribe()
    assert answer.delivery_id == command.delivery_id and answer.acknowledged
    assert received == [command.command_id, command.command_id]


async def acknowledge(agency_id: str, command: AcknowledgeNotification) -> Acknowledged:
    return Acknowledged(delivery_id=command.delivery_id, case_id=new_id(), acknowledged=True)


async def test_nobody_answering_ends_at_the_deadline(nc: NATS, subjects: Subjects, agency: str) -> None:
    policy = RetryPolicy(attempt_timeout_s=0.3, deadline_s=1.0, first_pause_s=0.02, max_pause_s=0.2)
    started = time.monotonic()
    with pytest.raises(RpcError) as raised:
        await RpcClient(nc, subjects, policy).call(agency, REPORTER_CONTACT, ReporterQuery(reporter_id="r"))
    elapsed = time.monotonic() - started
    assert raised.value.code is ErrorCode.UNAVAILABLE and raised.value.status == 503
    # It kept asking for most of its deadline and stopped soon after it (the bound leaves room
    # for a loaded machine, which runs late, never early).
    assert 0.5 <= elapsed <= 1.0 + 0.2 + 2.5, elapsed


async def test_a_responder_that_never_replies_times_out_at_the_deadline(
    nc: NATS, subjects: Subjects, agency: str
) -> None:
    seen: list[Msg] = []

    async def silent(message: Msg) -> None:
        seen.append(message)

    subscription = await nc.subscribe(subjects.rpc_filter(REPORTER_CONTACT.name), cb=silent)
    policy = RetryPolicy(attempt_timeout_s=0.2, deadline_s=1.0, first_pause_s=0.02, max_pause_s=0.1)
    try:
        with pytest.raises(RpcError) as raised:
            await RpcClient(nc, subjects, policy).call(
                agency, REPORTER_CONTACT, ReporterQuery(reporter_id="r")
            )
    finally:
        await subscription.unsubscribe()
    assert raised.value.code is ErrorCode.TIMEOUT and raised.value.status == 504
    assert 2 <= len(seen) <= 6, len(seen)


async def test_a_typed_error_is_an_answer_and_is_not_asked_again(
    nc: NATS, subjects: Subjects, agency: str
) -> None:
    asked: list[str] = []

    async def missing(agency_id: str, query: ReporterQuery) -> ReporterContact:
        asked.append(query.reporter_id)
        raise NotFound("no such reporter")

    async with answering(nc, subjects, Answer(REPORTER_CONTACT, missing)):
        with pytest.raises(RpcError) as raised:
            await RpcClient(nc, subjects, QUICK).call(
                agency, REPORTER_CONTACT, ReporterQuery(reporter_id="x")
            )
    assert raised.value.code is ErrorCode.NOT_FOUND
    assert asked == ["x"]
