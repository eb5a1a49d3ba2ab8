"""The federation's transport alone: real servers from the wheel, the generated configuration,
the streams the triage link declares. What crosses, what waits, and what the exchange refuses."""

import asyncio
import json
from collections.abc import AsyncIterator

import nats
import pytest
from nats.aio.client import Client
from nats.errors import NoRespondersError
from nats.js import JetStreamContext

from pantau_devstack.federation import FederatedNats
from pantau_shared.bus import provision
from pantau_shared.contract import Subjects, federation_subject
from pantau_shared.federation import FederationLink, FederationTable
from tests.waiting import eventually

SUBJECTS = Subjects()


@pytest.fixture(scope="module")
async def clients(federation: FederatedNats, table: FederationTable) -> AsyncIterator[dict[str, Client]]:
    connected = {i.name: await nats.connect(federation.url(i.name)) for i in table.instances}
    for instance in table.instances:
        link = FederationLink(SUBJECTS, table, instance)
        await provision(connected[instance.name].jetstream(), SUBJECTS, [], link.stream_configs())
    yield connected
    for client in connected.values():
        await client.close()


async def inbound(js: JetStreamContext, table: FederationTable, name: str) -> list[tuple[str, bytes]]:
    stream = FederationLink(SUBJECTS, table, table.instance(name)).inbound_stream
    info = await js.stream_info(stream)
    if not info.state.messages:
        return []
    found = []
    for sequence in range(info.state.first_seq, info.state.last_seq + 1):
        message = await js.get_msg(stream, sequence)
        found.append((message.subject or "", message.data or b""))
    return found


async def test_a_referral_reaches_only_its_addressee(
    clients: dict[str, Client], table: FederationTable
) -> None:
    js = {name: client.jetstream() for name, client in clients.items()}
    subject = federation_subject(SUBJECTS.root, "komdigi", "bawaslu-3375", "case.referred")
    await js["pekalongan"].publish(subject, b'{"n": "for komdigi"}', headers={"Nats-Msg-Id": "t-1"})
    await js["pekalongan"].publish(subject, b'{"n": "for komdigi"}', headers={"Nats-Msg-Id": "t-1"})
    to_jateng = federation_subject(SUBJECTS.root, "bawaslu-33", "bawaslu-3375", "case.referred")
    await js["pekalongan"].publish(to_jateng, b'{"n": "for jateng"}', headers={"Nats-Msg-Id": "t-2"})

    async def arrived() -> bool:
        komdigi = await inbound(js["komdigi"], table, "komdigi")
        jateng = await inbound(js["jateng"], table, "jateng")
        return len(komdigi) >= 1 and len(jateng) >= 1

    await eventually(arrived, timeout=15)
    assert [data for _, data in await inbound(js["komdigi"], table, "komdigi")] == [b'{"n": "for komdigi"}']
    assert [data for _, data in await inbound(js["jateng"], table, "jateng")] == [b'{"n": "for jateng"}']


async def test_messages_wait_on_the_sender_while_the_exchange_is_down(
    federation: FederatedNats, clients: dict[str, Client], table: FederationTable
) -> None:
    js = clients["pekalongan"].jetstream()
    komdigi = clients["komdigi"].jetstream()
    before = len(await inbound(komdigi, table, "komdigi"))
    subject = federation_subject(SUBJECTS.root, "komdigi", "bawaslu-3375", "case.partner_status")
    federation.servers["exchange"].stop()
    for n in range(40):
        await js.publish(subject, json.dumps({"n": n}).encode(), headers={"Nats-Msg-Id": f"outage-{n}"})
    await asyncio.sleep(1)  # the link is down: nothing can have crossed, whatever the wait
    assert len(await inbound(komdigi, table, "komdigi")) == before
    federation.servers["exchange"].start()

    async def all_arrived() -> bool:
        return len(await inbound(komdigi, table, "komdigi")) >= before + 40

    await eventually(all_arrived, timeout=30)
    received = [json.loads(data)["n"] for _, data in (await inbound(komdigi, table, "komdigi"))[before:]]
    assert received == list(range(40))


async def test_the_exchange_refuses_a_partner_reading_another_agencys_reports(
    federation: FederatedNats, clients: dict[str, Client]
) -> None:
    # With Komdigi's own link key, straight at the exchange: the server refuses the subscription.
    errors: list[Exception] = []

    async def on_error(error: Exception) -> None:
        errors.append(error)

    spy = await nats.connect(
        federation.url("exchange"), nkeys_seed_str=federation.seed("komdigi"), error_cb=on_error
    )
    await spy.subscribe(SUBJECTS.event("bawaslu-3375", "report.>"))
    await spy.flush()

    async def refused() -> list[Exception]:
        return errors

    await eventually(refused, timeout=5, what="the exchange's refusal")
    assert "permissions violation for subscription" in str(errors[0]).lower()
    await spy.close()

    # From Komdigi's own server: Pekalongan's reports never cross, nor does its JetStream API.
    seen = []

    async def collect(message: object) -> None:
        seen.append(message)

    await clients["komdigi"].subscribe(SUBJECTS.event("bawaslu-3375", "report.>"), cb=collect)
    await clients["komdigi"].flush()
    await clients["pekalongan"].publish(SUBJECTS.event("bawaslu-3375", "report.submitted"), b"{}")
    with pytest.raises(NoRespondersError):
        await clients["komdigi"].request(f"$JS.pekalongan.API.STREAM.INFO.{SUBJECTS.stream('REPORTS')}", b"")
    with pytest.raises(NoRespondersError):
        await clients["komdigi"].request(SUBJECTS.rpc("bawaslu-3375", "case.transition"), b"{}")
    control = federation_subject(SUBJECTS.root, "komdigi", "bawaslu-3375", "case.referred")
    await clients["pekalongan"].jetstream().publish(control, b'{"n": "control"}')
    await eventually(lambda: _has(clients["komdigi"].jetstream(), b'{"n": "control"}'), timeout=15)
    assert seen == []


async def _has(js: JetStreamContext, data: bytes) -> bool:
    info = await js.stream_info(SUBJECTS.stream("FEDERATION_IN"))
    if not info.state.messages:
        return False
    return (await js.get_msg(SUBJECTS.stream("FEDERATION_IN"), info.state.last_seq)).data == data
