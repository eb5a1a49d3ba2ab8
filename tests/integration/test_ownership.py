"""No agency writes to another's case, claims or alerts: three agencies against every write
endpoint of the HTTP API, with the gateway as a real HTTP server and triage and notify
answering over real NATS.

The owner opened the case; `komdigi` is an agency the case was routed to (it may read it and
keep its own referral record); the stranger has nothing to do with it.
"""

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn

from pantau_devstack.servers import free_port
from pantau_gateway.app import create_app
from pantau_notify.handlers import NotifyHandlers
from pantau_notify.repository import add_subscription
from pantau_shared.bus.rpc import serve
from pantau_shared.contract import decode
from pantau_shared.contract.rpc import ReportQuery, TransitionCase
from pantau_shared.http_server import EmbeddedServer
from pantau_shared.infrastructure import Infrastructure
from pantau_shared.settings import PlatformSettings
from pantau_triage.handlers import TriageHandlers
from tests.integration.test_case_workflow import HOAX, received, triage  # noqa: F401 - fixture
from tests.integration.test_gateway import SETTINGS, create_key
from tests.integration.test_services import wrap
from tests.waiting import eventually

ROUTED = "komdigi"
CLAIM = {
    "text": "Surat suara di Pekalongan Utara sudah dicoblos untuk paslon 1 sebelum hari pemungutan suara",
    "verdict": "hoaks",
    "source_url": "https://turnbackhoax.id/2024/02/12/surat-suara-tercoblos",
}


@dataclass
class World:
    owner: str
    stranger: str
    case_id: str
    delivery_id: str
    claim_id: str
    clients: dict[str, httpx.AsyncClient]
    key_ids: dict[str, str]


async def _gateway(platform: PlatformSettings) -> tuple[EmbeddedServer, asyncio.Task[None], str]:
    port = free_port()
    server = EmbeddedServer(
        uvicorn.Config(create_app(platform, SETTINGS), host="127.0.0.1", port=port, log_config=None)
    )
    task = asyncio.create_task(server.serve())
    await eventually(lambda: _started(server), what="gateway listening")
    return server, task, f"http://127.0.0.1:{port}"


async def _started(server: EmbeddedServer) -> bool | None:
    return server.started or None


async def _case_opened(infra: Infrastructure, owner: str) -> Any:
    row = await infra.pool.fetchrow(
        "SELECT headers, body FROM outbox WHERE subject LIKE '%.' || $1 || '.case.opened'", owner
    )
    return decode(json.loads(row["headers"]), row["body"])


@pytest.fixture
async def world(platform: PlatformSettings, triage, notify, agency: str) -> AsyncIterator[World]:  # noqa: F811 - fixture
    triage_infra, triage_handlers = triage
    notify_infra, notify_handlers, _ = notify
    answering = [
        *await serve(triage_infra.nc, triage_infra.subjects, "triage", triage_handlers.answers()),
        *await serve(notify_infra.nc, notify_infra.subjects, "notify", notify_handlers.answers()),
    ]
    owner, stranger = agency, f"{agency}-lain"
    server, task, base = await _gateway(platform)  # migrates the gateway's schema first
    keys = {who: await create_key(platform, who) for who in (owner, ROUTED, stranger)}
    clients = {who: httpx.AsyncClient(base_url=base, headers={"X-API-Key": key}) for who, key in keys.items()}
    try:
        world = await _open_case(
            clients, owner, stranger, triage_handlers, notify_handlers, triage_infra, notify_infra
        )
        world.key_ids = {who: key.split("_")[1] for who, key in keys.items()}
        yield world
    finally:
        for client in clients.values():
            await client.aclose()
        server.should_exit = True
        await task
        for subscription in answering:
            await subscription.unsubscribe()


async def _open_case(
    clients: dict[str, httpx.AsyncClient],
    owner: str,
    stranger: str,
    triage_handlers: TriageHandlers,
    notify_handlers: NotifyHandlers,
    triage_infra: Infrastructure,
    notify_infra: Infrastructure,
) -> World:
    claim_id = f"tbh-{owner}"
    added = await clients[owner].post("/v1/claims", json={"claims": [{"claim_id": claim_id, **CLAIM}]})
    assert added.status_code == 201, added.text
    report = received(owner, HOAX)
    await triage_handlers.report_received(wrap(report))
    found = await triage_handlers.casework.case_for_report(owner, ReportQuery(report_id=report.report_id))
    case_id = str(found.case_id)
    await add_subscription(
        notify_infra.pool,
        agency_id=owner,
        name="Patroli",
        address=f"patroli@{owner}.id",
        region_prefix="33.75",
        categories=None,
        min_priority=0,
    )
    await notify_handlers.fanout.case_changed(await _case_opened(triage_infra, owner))
    listed = (await clients[owner].get(f"/v1/cases/{case_id}/notifications")).json()
    assert len(listed) == 1, listed
    return World(owner, stranger, case_id, listed[0]["delivery_id"], claim_id, clients, {})


async def _state(world: World) -> dict[str, Any]:
    """Everything a write could change, as the owner reads it."""
    owner = world.clients[world.owner]
    case = (await owner.get(f"/v1/cases/{world.case_id}")).json()
    history = (await owner.get(f"/v1/cases/{world.case_id}/history")).json()
    notifications = (await owner.get(f"/v1/cases/{world.case_id}/notifications")).json()
    return {"case": case, "history": history, "notifications": notifications}


def _writes(world: World) -> dict[str, tuple[str, str, dict[str, Any]]]:
    case = f"/v1/cases/{world.case_id}"
    return {
        "transition": ("POST", f"{case}/transitions", {"to": "verifying", "actor": "Penyusup"}),
        "categories": ("PUT", f"{case}/categories", {"categories": ["sara"], "actor": "Penyusup"}),
        "referral": ("PUT", f"{case}/referral", {"state": "in_progress", "actor": "Tim AIS"}),
        "claims": (
            "POST",
            "/v1/claims",
            {
                "claims": [
                    {**CLAIM, "claim_id": world.claim_id, "verdict": "benar", "source_url": "https://x.id/a"}
                ]
            },
        ),
        "ack": ("POST", f"/v1/notifications/{world.delivery_id}/ack", {"actor": "Penyusup"}),
    }


# Who gets what: the owner changes its case, claims and alerts; the routed agency only its own
# referral record; the stranger nothing, and learns nothing (404) about what it cannot read.
EXPECTED = {
    "transition": {"owner": 200, "routed": 403, "stranger": 404},
    "categories": {"owner": 200, "routed": 403, "stranger": 404},
    "referral": {"owner": 409, "routed": 200, "stranger": 404},
    "claims": {"owner": 201, "routed": 403, "stranger": 403},
    "ack": {"owner": 200, "routed": 404, "stranger": 404},
}


def _who(world: World, role: str) -> str:
    return {"owner": world.owner, "routed": ROUTED, "stranger": world.stranger}[role]


async def test_no_agency_writes_to_another_agencys_case_claims_or_alerts(world: World) -> None:
    writes = _writes(world)
    for endpoint, (method, path, body) in writes.items():
        allowed = [role for role, status in EXPECTED[endpoint].items() if status < 300]
        for role in ("owner", "routed", "stranger"):
            if role in allowed:
                continue
            before = await _state(world)
            response = await world.clients[_who(world, role)].request(method, path, json=body)
            assert response.status_code == EXPECTED[endpoint][role], (endpoint, role, response.text)
            assert response.headers["content-type"] == "application/problem+json"
            assert await _state(world) == before, (endpoint, role)
    # The claim kept its owner's verdict and source.
    case = (await _state(world))["case"]
    assert [(c["claim_id"], c["verdict"]) for c in case["claims"]] == [(world.claim_id, "hoaks")]
    # And each write goes through for the one it belongs to.
    for endpoint, (method, path, body) in writes.items():
        for role, status in EXPECTED[endpoint].items():
            if status < 300:
                response = await world.clients[_who(world, role)].request(method, path, json=body)
                assert response.status_code == status, (endpoint, role, response.text)


async def test_the_routed_agency_keeps_its_own_referral_and_history_names_agency_and_key(
    world: World,
) -> None:
    owner, routed = world.clients[world.owner], world.clients[ROUTED]
    case = f"/v1/cases/{world.case_id}"
    assert (await routed.get(case)).json()["referrals"] == [
        {"agency_id": "bawaslu-3375", "state": "pending", "note": None, "updated_at": None},
        {"agency_id": ROUTED, "state": "pending", "note": None, "updated_at": None},
    ]
    retried = {"Idempotency-Key": "referral-1"}
    for _ in range(2):  # a retried command is applied once
        recorded = await routed.put(
            f"{case}/referral",
            json={"state": "in_progress", "actor": "Tim AIS", "note": "Diajukan ke platform"},
            headers=retried,
        )
        assert recorded.status_code == 200, recorded.text
    moved = await owner.post(f"{case}/transitions", json={"to": "verifying", "actor": "Siti"})
    view = moved.json()
    assert view["state"] == "verifying"
    komdigi = next(r for r in view["referrals"] if r["agency_id"] == ROUTED)
    assert (komdigi["state"], komdigi["note"]) == ("in_progress", "Diajukan ke platform")
    history = (await owner.get(f"{case}/history")).json()
    assert [(h["change"], h["agency_id"], h["principal"], h["referral_state"]) for h in history] == [
        ("opened", world.owner, None, None),
        ("referral_updated", ROUTED, f"key:{world.key_ids[ROUTED]}", "in_progress"),
        ("state_changed", world.owner, f"key:{world.key_ids[world.owner]}", None),
    ]


async def test_reads_of_another_agencys_records_reveal_nothing(world: World) -> None:
    stranger = world.clients[world.stranger]
    missing = "018d9a1e-3c40-7b3b-8c1e-000000000000"
    for path in ("/v1/cases/{}", "/v1/cases/{}/history", "/v1/cases/{}/notifications"):
        real = await stranger.get(path.format(world.case_id))
        absent = await stranger.get(path.format(missing))
        assert real.status_code == absent.status_code == 404
        assert real.text.replace(world.case_id, missing) == absent.text


async def test_another_agencys_claims_match_only_after_subscribing(world: World, triage) -> None:  # noqa: F811
    _, handlers = triage
    stranger = world.clients[world.stranger]

    async def claims_of_a_new_report() -> list[str]:
        report = received(world.stranger, HOAX)
        await handlers.report_received(wrap(report))
        found = await handlers.casework.case_for_report(
            world.stranger, ReportQuery(report_id=report.report_id)
        )
        case = (await stranger.get(f"/v1/cases/{found.case_id}")).json()
        # Closed (through triage itself: a setup step, not what is tested) so that the next,
        # identical report opens a case of its own instead of joining this one.
        closing = TransitionCase.model_validate(
            {"case_id": found.case_id, "to": "closed", "actor": "uji", "resolution": "duplicate"}
        )
        assert (await handlers.casework.transition(world.stranger, closing)).state == "closed"
        return [c["claim_id"] for c in case["claims"]]

    assert await claims_of_a_new_report() == []
    subscribed = await stranger.put(f"/v1/claims/subscriptions/{world.owner}")
    assert subscribed.json() == {"publishers": [world.owner]}
    assert await claims_of_a_new_report() == [world.claim_id]
    assert (await stranger.delete(f"/v1/claims/subscriptions/{world.owner}")).json() == {"publishers": []}
    assert await claims_of_a_new_report() == []


async def test_the_alert_list_shows_each_agency_its_own_alerts_only(world: World) -> None:
    owner = await world.clients[world.owner].get("/v1/notifications")
    assert owner.status_code == 200, owner.text
    assert [n["delivery_id"] for n in owner.json()["notifications"]] == [world.delivery_id]
    for other in (ROUTED, world.stranger):
        listed = (await world.clients[other].get("/v1/notifications")).json()
        assert world.delivery_id not in {n["delivery_id"] for n in listed["notifications"]}
    unacknowledged = await world.clients[world.owner].get(
        "/v1/notifications", params={"unacknowledged": True}
    )
    assert unacknowledged.json()["notifications"] == [], "a subscription's alert is not a team alert"
    tag = owner.headers["etag"]
    again = await world.clients[world.owner].get("/v1/notifications", headers={"If-None-Match": tag})
    assert again.status_code == 304
