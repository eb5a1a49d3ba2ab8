"""The audit log on real PostgreSQL (and the gateway on real NATS and Redis): what a request
leaves in it, how an admin reads it, that changing it by hand is caught, and that concurrent
appends from several instances keep one chain."""

import argparse
import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import Annotated

import asyncpg
import pytest
import rfc8785
from fastapi.testclient import TestClient

from pantau_gateway import audit
from pantau_gateway.app import create_app
from pantau_gateway.commands import revoke_key, verify_audit
from pantau_gateway.roles import Principal, Role, Scope, require
from pantau_gateway.settings import GatewaySettings
from pantau_shared.infrastructure import Infrastructure
from pantau_shared.settings import PlatformSettings
from tests.integration import people
from tests.integration.responder import Responder
from tests.integration.test_gateway import is_problem

SETTINGS = GatewaySettings(default_rate_limit=100_000, user_rate_limit=100_000, auth_failure_limit=100_000)
CASE = "0190d5b6-8a1e-7c3b-9d2e-4f5a6b7c8d9e"


def services(agency: str, method: str, body: bytes) -> bytes:
    """The two reads behind `GET /v1/cases/{id}/reporters`, as triage and intake answer them."""
    if method == "case.reporters":
        reply: dict = {"data": {"reporter_ids": ["rp-1", "rp-2"]}}
    elif method == "reporter.contact" and json.loads(body)["reporter_id"] == "rp-1":
        reply = {"data": {"wants_updates": True, "email": "warga@contoh.id", "phone": None, "name": "Warga"}}
    else:
        reply = {"error": {"code": "not_found", "detail": "tidak ada"}}
    return json.dumps(reply).encode()


@pytest.fixture
def gateway(platform: PlatformSettings) -> Iterator[TestClient]:
    with TestClient(
        create_app(platform, SETTINGS),
        raise_server_exceptions=False,
        base_url="https://testserver",
        client=("198.51.100.44", 5000),
    ) as client:
        yield client


@pytest.fixture
async def pool(platform: PlatformSettings) -> AsyncIterator[asyncpg.Pool]:
    pool = await people.gateway_pool(platform)
    yield pool
    await pool.close()


def entries(gateway: TestClient, admin: dict[str, str], limit: int = 100) -> list[dict]:
    found, after = [], 0
    while True:
        page = gateway.get("/v1/audit", params={"after": after, "limit": limit}, headers=admin)
        assert page.status_code == 200, page.text
        found += page.json()["entries"]
        if page.json()["next_after"] is None:
            return found
        after = page.json()["next_after"]


def test_changes_and_contact_reads_are_logged_with_who_what_when_and_where(
    platform: PlatformSettings, gateway: TestClient, agency: str
) -> None:
    admin = {"X-API-Key": people.key(platform, SETTINGS, agency, "admin")}
    patrol = {"X-API-Key": people.key(platform, SETTINGS, agency, "patrol", contacts=True)}
    analyst = {"X-API-Key": people.key(platform, SETTINGS, agency, "analyst")}
    with Responder(platform, services):
        transition = gateway.post(
            f"/v1/cases/{CASE}/transitions",
            json={"to": "verifying", "actor": "Budi"},
            headers={**patrol, "Idempotency-Key": "langkah-1"},
        )
        is_problem(transition, 404)
        contacts = gateway.get(f"/v1/cases/{CASE}/reporters", headers=patrol)
        assert contacts.status_code == 200, contacts.text
        assert contacts.json()["reporters"][0]["contact"]["email"] == "warga@contoh.id"
        assert contacts.json()["reporters"][1]["contact"] is None
        # Refused: no contacts grant. Logged as an attempt.
        is_problem(gateway.get(f"/v1/cases/{CASE}/reporters", headers=analyst), 403)
        # Reads of anything but contacts are not logged.
        is_problem(gateway.get(f"/v1/cases/{CASE}", headers=patrol), 404)
    logged = entries(gateway, admin)
    assert [(e["action"], e["outcome"]) for e in logged] == [
        ("POST /v1/cases/{case_id}/transitions", 404),
        ("GET /v1/cases/{case_id}/reporters", 200),
        ("GET /v1/cases/{case_id}/reporters", 403),
    ]
    patrol_id, analyst_id = patrol["X-API-Key"].split("_")[1], analyst["X-API-Key"].split("_")[1]
    assert [e["principal"] for e in logged] == [f"key:{patrol_id}", f"key:{patrol_id}", f"key:{analyst_id}"]
    assert all(e["agency_id"] == agency and e["address"] == "198.51.100.44" for e in logged)
    assert logged[0]["detail"]["path"] == {"case_id": CASE} and "command_id" in logged[0]["detail"]
    assert [e["seq"] for e in logged] == [1, 2, 3]
    # Each entry's hash is SHA-256 of its canonical JSON, linked to the previous one: an auditor
    # can check the API's pages without the server.
    prev = "00" * 32
    for e in logged:
        assert e["prev_hash"] == prev
        body = {
            k: e[k] for k in ("seq", "at", "agency_id", "principal", "action", "outcome", "address", "detail")
        }
        canonical = rfc8785.dumps({**body, "v": 1, "prev": e["prev_hash"]})
        assert hashlib.sha256(canonical).hexdigest() == e["hash"]
        prev = e["hash"]
    # Another agency's admin sees none of it; only admins read the log.
    other = {"X-API-Key": people.key(platform, SETTINGS, agency + "-lain", "admin")}
    assert entries(gateway, other) == []
    is_problem(gateway.get("/v1/audit", headers=patrol), 403)


def test_a_session_is_logged_as_its_user_from_sign_in_to_sign_out(
    platform: PlatformSettings, gateway: TestClient, agency: str
) -> None:
    email = f"admin.{agency}@uji.go.id"
    user_id = people.user(platform, agency, email, "admin")
    person = people.sign_in(gateway, email)
    created = gateway.post(
        "/v1/users",
        json={
            "email": f"baru.{agency}@uji.go.id",
            "name": "Baru",
            "password": people.PASSWORD,
            "roles": ["patrol"],
        },
        headers=person.headers(),
    )
    assert created.status_code == 201
    logged = entries(gateway, person.headers())
    assert gateway.delete("/v1/sessions/current", headers=person.headers()).status_code == 204
    assert [(e["action"], e["outcome"], e["principal"]) for e in logged] == [
        ("POST /v1/sessions", 201, f"user:{user_id}"),
        ("POST /v1/users", 201, f"user:{user_id}"),
    ]
    admin = {"X-API-Key": people.key(platform, SETTINGS, agency, "admin")}
    assert entries(gateway, admin)[-1]["action"] == "DELETE /v1/sessions/current"


def test_the_audit_log_pages_in_order(platform: PlatformSettings, gateway: TestClient, agency: str) -> None:
    admin = {"X-API-Key": people.key(platform, SETTINGS, agency, "admin")}
    for n in range(7):
        is_problem(gateway.delete(f"/v1/keys/tidakada{n}", headers=admin), 404)
    logged = entries(gateway, admin, limit=3)
    assert [e["seq"] for e in logged] == list(range(1, 8))
    assert [e["detail"]["path"]["key_id"] for e in logged] == [f"tidakada{n}" for n in range(7)]
    assert gateway.get("/v1/audit/verification", headers=admin).json()["intact"] is True


async def chain(pool: asyncpg.Pool, agency: str, n: int) -> list[int]:
    log = audit.AuditLog(pool)
    return [
        await log.append(
            audit.Event(agency, "key:uji", f"uji {i}", 200, "192.0.2.1", {"n": i, "teks": "ubah ✓"})
        )
        for i in range(n)
    ]


async def by_hand(pool: asyncpg.Pool, *statements: str) -> None:
    """As someone with the database's password would: past the append-only trigger."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL session_replication_role = replica")
        for statement in statements:
            await conn.execute(statement)


async def test_the_log_refuses_updates_and_deletes_through_sql(pool: asyncpg.Pool, agency: str) -> None:
    await chain(pool, agency, 2)
    for statement in (
        f"UPDATE audit_log SET principal = 'key:lain' WHERE agency_id = '{agency}'",
        f"DELETE FROM audit_log WHERE agency_id = '{agency}'",
        "TRUNCATE audit_log",
    ):
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await pool.execute(statement)
    assert (await audit.verify(pool, agency)).entries == 2


@pytest.mark.parametrize(
    ("tamper", "found"),
    [
        (
            "UPDATE audit_log SET principal = 'key:orang-lain' WHERE agency_id = '{a}' AND seq = 3",
            "entry 3 was changed",
        ),
        (
            "UPDATE audit_log SET detail = '{{\"n\": 99}}' WHERE agency_id = '{a}' AND seq = 2",
            "entry 2 was changed",
        ),
        (
            "UPDATE audit_log SET at = at + interval '1 second' WHERE agency_id = '{a}' AND seq = 4",
            "entry 4 was changed",
        ),
        ("DELETE FROM audit_log WHERE agency_id = '{a}' AND seq = 3", "entry 3 is missing"),
        (
            "DELETE FROM audit_log WHERE agency_id = '{a}' AND seq = 5",
            "the chain ends at entry 4, its head says 5",
        ),
        (
            "INSERT INTO audit_log SELECT agency_id, 6, at, principal, action, outcome, client_address,"
            " detail, hash, hash FROM audit_log WHERE agency_id = '{a}' AND seq = 5",
            "entry 6 was changed",
        ),
        ("DELETE FROM audit_log WHERE agency_id = '{a}'", "the chain ends at entry 0, its head says 5"),
    ],
)
async def test_a_row_changed_inserted_or_deleted_by_hand_is_found(
    pool: asyncpg.Pool, agency: str, tamper: str, found: str
) -> None:
    await chain(pool, agency, 5)
    assert (await audit.verify(pool, agency)).intact
    await by_hand(pool, tamper.format(a=agency))
    verdict = await audit.verify(pool, agency)
    assert not verdict.intact and found in verdict.problem, verdict.problem


async def test_a_changed_row_with_its_hash_recomputed_breaks_the_next_link(
    pool: asyncpg.Pool, agency: str
) -> None:
    await chain(pool, agency, 4)
    row = await pool.fetchrow("SELECT * FROM audit_log WHERE agency_id = $1 AND seq = 2", agency)
    forged = audit.Event(
        agency,
        "key:orang-lain",
        row["action"],
        row["outcome"],
        row["client_address"],
        json.loads(row["detail"]),
    )
    forged_hash = audit.digest(2, row["at"], forged, bytes(row["prev_hash"]))
    await by_hand(
        pool,
        f"UPDATE audit_log SET principal = 'key:orang-lain', hash = '\\x{forged_hash.hex()}'"
        f" WHERE agency_id = '{agency}' AND seq = 2",
    )
    verdict = await audit.verify(pool, agency)
    assert verdict.problem == "entry 3 does not link to entry 2"


async def test_an_entry_added_by_hand_with_a_right_hash_is_found_by_the_head(
    pool: asyncpg.Pool, agency: str
) -> None:
    await chain(pool, agency, 2)
    last = await pool.fetchrow("SELECT * FROM audit_log WHERE agency_id = $1 AND seq = 2", agency)
    added = audit.Event(agency, "key:orang-lain", "POST /v1/claims", 201, "192.0.2.66", {})
    added_hash = audit.digest(3, last["at"], added, bytes(last["hash"]))
    await by_hand(
        pool,
        "INSERT INTO audit_log VALUES"
        f" ('{agency}', 3, '{last['at'].isoformat()}', 'key:orang-lain', 'POST /v1/claims', 201,"
        f" '192.0.2.66', '{{}}', '\\x{bytes(last['hash']).hex()}', '\\x{added_hash.hex()}')",
    )
    verdict = await audit.verify(pool, agency)
    assert verdict.problem == "the chain ends at entry 3, its head says 2: entries were added or removed"


async def test_a_consistently_rewritten_tail_is_found_against_an_anchor(
    pool: asyncpg.Pool, agency: str
) -> None:
    await chain(pool, agency, 3)
    anchor = await audit.verify(pool, agency)
    # Rewrite entry 3 and the head as a careful forger would: the chain alone looks whole.
    row = await pool.fetchrow("SELECT * FROM audit_log WHERE agency_id = $1 AND seq = 3", agency)
    forged = audit.Event(agency, "key:orang-lain", row["action"], row["outcome"], row["client_address"], {})
    forged_hash = audit.digest(3, row["at"], forged, bytes(row["prev_hash"]))
    await by_hand(
        pool,
        f"UPDATE audit_log SET principal = 'key:orang-lain', detail = '{{}}', hash = '\\x{forged_hash.hex()}'"
        f" WHERE agency_id = '{agency}' AND seq = 3",
        f"UPDATE audit_heads SET hash = '\\x{forged_hash.hex()}' WHERE agency_id = '{agency}'",
    )
    assert (await audit.verify(pool, agency)).intact
    verdict = await audit.verify(pool, agency, anchor=(anchor.head_seq, anchor.head_hash))
    assert verdict.problem == "entry 3 is not the one anchored: the chain was rewritten from there"


async def test_concurrent_appends_from_several_instances_keep_one_chain(
    platform: PlatformSettings, agency: str
) -> None:
    """Four gateway instances (four pools: four sets of database sessions), each with many
    requests appending at once, on one agency's chain and a second agency's."""
    pools = [await people.gateway_pool(platform) for _ in range(4)]
    other = agency + "-b"
    try:
        logs = [audit.AuditLog(pool) for pool in pools]

        async def requests(log: audit.AuditLog, instance: int) -> list[tuple[str, int]]:
            async def one(i: int) -> tuple[str, int]:
                target = agency if i % 3 else other
                seq = await log.append(
                    audit.Event(target, f"key:{instance}", "POST /uji", 200, "192.0.2.9", {"i": i})
                )
                return target, seq

            return list(await asyncio.gather(*(one(i) for i in range(150))))

        started = datetime.now()
        results = [
            r
            for batch in await asyncio.gather(*(requests(log, n) for n, log in enumerate(logs)))
            for r in batch
        ]
        took = (datetime.now() - started).total_seconds()
        print(f"{len(results)} concurrent appends from 4 instances in {took:.2f}s")
        for target in (agency, other):
            numbers = sorted(seq for who, seq in results if who == target)
            assert numbers == list(range(1, len(numbers) + 1)), "each entry got its own number, none skipped"
            verdict = await audit.verify(pools[0], target)
            assert verdict.intact and verdict.entries == len(numbers), verdict.problem
    finally:
        for pool in pools:
            await pool.close()


def test_verify_audit_prints_the_heads_and_fails_on_a_broken_chain(
    platform: PlatformSettings, agency: str, capsys: pytest.CaptureFixture[str]
) -> None:
    async def run() -> None:
        infra = await Infrastructure.connect(platform, SETTINGS, service="gateway", schema="gateway")
        try:
            await infra.migrate("pantau_gateway", "gateway")
            await people.key_async(platform, agency, "admin")
            key_id = await infra.pool.fetchval("SELECT key_id FROM api_keys WHERE agency_id = $1", agency)
            await revoke_key(infra, SETTINGS, argparse.Namespace(key_id=key_id))
            await verify_audit(infra, SETTINGS, argparse.Namespace(agency=agency, anchor=[]))
            head = capsys.readouterr().out.strip().splitlines()[-1]
            assert head.startswith(f"{agency}:1:") and head.endswith("1 entries, intact")
            logged = await audit.page(infra.pool, agency, 0, 10)
            assert logged[0].event.action == "cli revoke-key" and logged[0].event.principal.startswith("cli:")
            await by_hand(infra.pool, f"UPDATE audit_log SET outcome = 1 WHERE agency_id = '{agency}'")
            with pytest.raises(SystemExit, match="1 audit chain"):
                await verify_audit(infra, SETTINGS, argparse.Namespace(agency=agency, anchor=[]))
            assert "BROKEN: entry 1 was changed" in capsys.readouterr().out
        finally:
            await infra.close()

    asyncio.run(run())


def test_contacts_are_not_shown_when_their_read_cannot_be_logged(
    platform: PlatformSettings, gateway: TestClient, agency: str
) -> None:
    patrol = {"X-API-Key": people.key(platform, SETTINGS, agency, "patrol", contacts=True)}
    trigger = f"refuse_{agency.replace('-', '_')}"

    async def break_the_log(broken: bool) -> None:
        pool = await people.gateway_pool(platform)
        try:
            if broken:
                # The log's table refusing this agency's rows, as a full disk or a lost primary would.
                await pool.execute(
                    f"CREATE FUNCTION {trigger}() RETURNS trigger LANGUAGE plpgsql AS"
                    " $$ BEGIN RAISE EXCEPTION 'disk full'; END $$;"
                    f" CREATE TRIGGER {trigger} BEFORE INSERT ON audit_log FOR EACH ROW"
                    f" WHEN (NEW.agency_id = '{agency}') EXECUTE FUNCTION {trigger}()"
                )
            else:
                await pool.execute(f"DROP TRIGGER {trigger} ON audit_log; DROP FUNCTION {trigger}()")
        finally:
            await pool.close()

    asyncio.run(break_the_log(True))
    try:
        with Responder(platform, services):
            answer = gateway.get(f"/v1/cases/{CASE}/reporters", headers=patrol)
            assert "catatan audit" in is_problem(answer, 503)["detail"]
            assert "warga@contoh.id" not in answer.text
    finally:
        asyncio.run(break_the_log(False))
    with Responder(platform, services):
        assert gateway.get(f"/v1/cases/{CASE}/reporters", headers=patrol).status_code == 200


def test_a_confirmation_through_an_alert_link_is_logged_as_the_link(
    platform: PlatformSettings, gateway: TestClient, agency: str
) -> None:
    admin = {"X-API-Key": people.key(platform, SETTINGS, agency, "admin")}
    forged = gateway.post(f"/ack/{agency}/{CASE}", data={"t": "palsu", "c": CASE, "actor": "Siapa"})
    assert forged.status_code == 403
    (entry,) = entries(gateway, admin)
    assert (entry["principal"], entry["action"], entry["outcome"]) == (
        "link",
        "POST /ack/{agency_id}/{delivery_id}",
        403,
    )


def test_a_change_that_fails_inside_the_server_is_logged_as_a_500(
    platform: PlatformSettings, agency: str
) -> None:
    app = create_app(platform, SETTINGS)

    @app.post("/v1/uji/rusak")
    async def broken(caller: Annotated[Principal, require(Role.PATROL, scope=Scope.CASES_WRITE)]) -> None:
        raise RuntimeError("a bug")

    with TestClient(app, raise_server_exceptions=False, base_url="https://testserver") as gateway:
        patrol = {
            "X-API-Key": people.key(platform, SETTINGS, agency, "patrol"),
            "X-Request-ID": "permintaan-uji-1",
        }
        assert gateway.post("/v1/uji/rusak", headers=patrol).status_code == 500
        admin = {"X-API-Key": people.key(platform, SETTINGS, agency, "admin")}
        (entry,) = entries(gateway, admin)
    assert (entry["action"], entry["outcome"]) == ("POST /v1/uji/rusak", 500)
    assert entry["detail"]["request_id"] == "permintaan-uji-1"


async def test_the_heads_logged_as_the_chain_grows_are_anchors(
    pool: asyncpg.Pool, agency: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("INFO", logger="pantau_gateway.audit"):
        await chain(pool, agency, 3)
    logged = [r.getMessage().split()[-1] for r in caplog.records if agency in r.getMessage()]
    # Once a minute per agency: the first append's head.
    assert len(logged) == 1
    _, seq, head = logged[0].rsplit(":", 2)
    assert seq == "1"
    assert (await audit.verify(pool, agency, anchor=(1, bytes.fromhex(head)))).intact
    await by_hand(pool, f"UPDATE audit_log SET principal = 'key:x' WHERE agency_id = '{agency}' AND seq = 1")
    assert not (await audit.verify(pool, agency, anchor=(1, bytes.fromhex(head)))).intact
