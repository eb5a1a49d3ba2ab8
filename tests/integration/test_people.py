"""Staff accounts, console sessions and API keys with roles, against the real gateway on real
NATS, PostgreSQL and Redis."""

import argparse
import asyncio
import io
import secrets
import sys
import time
from importlib import resources

import asyncpg
import pytest
from fastapi.testclient import TestClient

from pantau_gateway.app import create_app
from pantau_gateway.commands import add_key, add_user
from pantau_gateway.sessions import COOKIE
from pantau_gateway.settings import GatewaySettings
from pantau_shared.infrastructure import Infrastructure
from pantau_shared.settings import PlatformSettings
from tests.integration import people
from tests.integration.test_gateway import is_problem
from tests.waiting import eventually

SETTINGS = GatewaySettings(default_rate_limit=100_000, user_rate_limit=100_000, auth_failure_limit=100_000)
CASE = "/v1/cases/0190d5b6-8a1e-7c3b-9d2e-4f5a6b7c8d9e"


def client(
    platform: PlatformSettings, settings: GatewaySettings = SETTINGS, address: str = "192.0.2.20"
) -> TestClient:
    return TestClient(
        create_app(platform, settings),
        raise_server_exceptions=False,
        base_url="https://testserver",
        client=(address, 1),
    )


def email(agency: str, who: str = "petugas") -> str:
    return f"{who}.{agency}@uji.go.id"


def test_signing_in_sets_a_secure_httponly_samesite_cookie_and_only_its_hash_is_stored(
    platform: PlatformSettings, agency: str
) -> None:
    with client(platform) as gateway:
        people.user(platform, agency, email(agency), "supervisor")
        answer = gateway.post(
            "/v1/sessions", json={"email": email(agency).upper(), "password": people.PASSWORD}
        )
        assert answer.status_code == 201, answer.text
        cookie = answer.headers["set-cookie"]
        assert cookie.startswith(f"{COOKIE}=")
        attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
        assert {"secure", "httponly", "path", "expires"} <= attributes and "domain" not in attributes
        assert "samesite=lax" in cookie.lower()
        token = answer.cookies[COOKIE]
        body = answer.json()
        assert body["user"]["roles"] == ["supervisor"] and len(body["csrf_token"]) == 64
        # The client's jar now sends the cookie.
        current = gateway.get("/v1/sessions/current")
        assert current.status_code == 200 and current.json()["user"]["email"] == email(agency)

        async def stored() -> tuple[str, list[bytes]]:
            pool = await people.gateway_pool(platform)
            try:
                password_hash = await pool.fetchval(
                    "SELECT password_hash FROM users WHERE email = $1", email(agency)
                )
                hashes = [
                    r[0]
                    for r in await pool.fetch(
                        "SELECT token_hash FROM sessions s JOIN users USING (user_id) WHERE email = $1",
                        email(agency),
                    )
                ]
                return password_hash, hashes
            finally:
                await pool.close()

        password_hash, hashes = asyncio.run(stored())
        assert password_hash.startswith("$argon2id$") and people.PASSWORD not in password_hash
        assert len(hashes) == 1 and token.encode() not in hashes[0] and len(hashes[0]) == 32


def test_wrong_or_unknown_credentials_are_refused_alike_and_repeated_failures_are_limited(
    platform: PlatformSettings, agency: str
) -> None:
    limited = SETTINGS.model_copy(update={"auth_failure_limit": 3})
    with client(platform, limited, address="203.0.113.30") as gateway:
        people.user(platform, agency, email(agency), "patrol")

        async def early_in_a_window() -> bool:
            # Failures count in fixed one-minute windows: start where the next 10 s stay in one.
            return time.time() % 60 < 45

        asyncio.run(eventually(early_in_a_window, timeout=30, what="the start of a rate-limit window"))
        wrong = gateway.post("/v1/sessions", json={"email": email(agency), "password": "salah-sekali-ini"})
        unknown = gateway.post(
            "/v1/sessions", json={"email": "tidak.ada@uji.go.id", "password": people.PASSWORD}
        )
        assert is_problem(wrong, 401)["detail"] == is_problem(unknown, 401)["detail"]
        assert COOKIE not in wrong.cookies
        gateway.post("/v1/sessions", json={"email": email(agency), "password": "salah-lagi-ini"})
        # Over the limit, even the right password waits.
        blocked = gateway.post("/v1/sessions", json={"email": email(agency), "password": people.PASSWORD})
        is_problem(blocked, 429)
        assert 1 <= int(blocked.headers["retry-after"]) <= 60
        # Counted apart from API keys: the machines behind the same address are not locked out.
        key = {"X-API-Key": people.key(platform, SETTINGS, agency, "patrol")}
        assert (
            gateway.post("/v1/reports", json={"text": "dari alamat yang sama"}, headers=key).status_code
            == 202
        )


def test_signing_out_ends_the_session_on_every_instance(platform: PlatformSettings, agency: str) -> None:
    with client(platform) as first, client(platform) as second:
        people.user(platform, agency, email(agency), "analyst")
        person = people.sign_in(first, email(agency))
        assert second.get("/v1/sessions/current", headers=person.headers()).status_code == 200
        assert first.delete("/v1/sessions/current", headers=person.headers()).status_code == 204
        is_problem(second.get("/v1/sessions/current", headers=person.headers()), 401)
        is_problem(first.get(CASE, headers=person.headers()), 401)


def test_a_session_expires_after_its_lifetime(platform: PlatformSettings, agency: str) -> None:
    short = SETTINGS.model_copy(update={"session_lifetime_s": 2})
    with client(platform, short) as gateway:
        people.user(platform, agency, email(agency), "patrol")
        person = people.sign_in(gateway, email(agency))
        assert gateway.get("/v1/sessions/current", headers=person.headers()).status_code == 200

        async def expired() -> bool:
            return gateway.get("/v1/sessions/current", headers=person.headers()).status_code == 401

        asyncio.run(eventually(expired, timeout=30, what="the session expired"))


def test_an_admin_manages_the_agencys_people_and_never_another_agencys(
    platform: PlatformSettings, agency: str
) -> None:
    other = agency + "-lain"
    with client(platform) as gateway:
        admin = {"X-API-Key": people.key(platform, SETTINGS, agency, "admin")}
        other_admin = {"X-API-Key": people.key(platform, SETTINGS, other, "admin")}
        created = gateway.post(
            "/v1/users",
            json={"email": email(agency), "name": "Siti", "password": people.PASSWORD, "roles": ["partner"]},
            headers=admin,
        )
        assert created.status_code == 201, created.text
        user_id = created.json()["user_id"]
        is_problem(
            gateway.post(
                "/v1/users",
                json={
                    "email": email(agency),
                    "name": "Lagi",
                    "password": people.PASSWORD,
                    "roles": ["patrol"],
                },
                headers=admin,
            ),
            409,
        )
        is_problem(
            gateway.post(
                "/v1/users",
                json={"email": "x@uji.go.id", "name": "P", "password": "pendek", "roles": ["patrol"]},
                headers=admin,
            ),
            422,
        )
        person = people.sign_in(gateway, email(agency))
        transition = {"to": "verifying", "actor": "Siti"}
        # A partner reads only; promoted, the same session may change cases at once.
        is_problem(gateway.post(f"{CASE}/transitions", json=transition, headers=person.headers()), 403)
        promoted = gateway.patch(f"/v1/users/{user_id}", json={"roles": ["patrol"]}, headers=admin)
        assert promoted.json()["roles"] == ["patrol"]
        assert gateway.post(
            f"{CASE}/transitions", json=transition, headers=person.headers()
        ).status_code not in (401, 403)
        # Another agency's admin neither sees nor changes the user.
        assert user_id not in {u["user_id"] for u in gateway.get("/v1/users", headers=other_admin).json()}
        is_problem(gateway.get(f"/v1/users/{user_id}", headers=other_admin), 404)
        is_problem(gateway.patch(f"/v1/users/{user_id}", json={"disabled": True}, headers=other_admin), 404)
        assert gateway.get("/v1/sessions/current", headers=person.headers()).status_code == 200
        # Disabled by their own admin: the session ends at once, and signing in again fails.
        assert gateway.patch(f"/v1/users/{user_id}", json={"disabled": True}, headers=admin).json()[
            "disabled_at"
        ]
        is_problem(gateway.get("/v1/sessions/current", headers=person.headers()), 401)
        is_problem(
            gateway.post("/v1/sessions", json={"email": email(agency), "password": people.PASSWORD}), 401
        )


def test_an_admin_cannot_lock_themselves_out(platform: PlatformSettings, agency: str) -> None:
    with client(platform) as gateway:
        user_id = people.user(platform, agency, email(agency), "admin")
        person = people.sign_in(gateway, email(agency))
        for change in ({"disabled": True}, {"roles": ["supervisor"]}):
            is_problem(gateway.patch(f"/v1/users/{user_id}", json=change, headers=person.headers()), 409)
        assert gateway.get(f"/v1/users/{user_id}", headers=person.headers()).json()["roles"] == ["admin"]


def test_keys_issued_by_an_admin_carry_their_scopes_and_revoke_at_once(
    platform: PlatformSettings, agency: str
) -> None:
    with client(platform) as gateway:
        admin = {"X-API-Key": people.key(platform, SETTINGS, agency, "admin")}
        issued = gateway.post(
            "/v1/keys",
            json={"label": "kolektor", "roles": ["supervisor"], "scopes": ["reports:submit"]},
            headers=admin,
        )
        assert issued.status_code == 201, issued.text
        collector = {"X-API-Key": issued.json()["key"]}
        assert (
            gateway.post("/v1/reports", json={"text": "laporan kolektor"}, headers=collector).status_code
            == 202
        )
        assert "cakupan cases:read" in is_problem(gateway.get(CASE, headers=collector), 403)["detail"]
        listed = {k["key_id"]: k for k in gateway.get("/v1/keys", headers=admin).json()}
        key_id = issued.json()["key_id"]
        assert listed[key_id]["scopes"] == ["reports:submit"] and listed[key_id]["revoked_at"] is None
        assert issued.json()["key"] not in str(listed)
        other_admin = {"X-API-Key": people.key(platform, SETTINGS, agency + "-lain", "admin")}
        is_problem(gateway.delete(f"/v1/keys/{key_id}", headers=other_admin), 404)
        assert gateway.delete(f"/v1/keys/{key_id}", headers=admin).status_code == 204
        is_problem(gateway.post("/v1/reports", json={"text": "sesudah dicabut"}, headers=collector), 401)


def test_the_cli_creates_users_and_keys_with_roles(
    platform: PlatformSettings, agency: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def run() -> str:
        infra = await Infrastructure.connect(platform, SETTINGS, service="gateway", schema="gateway")
        try:
            await infra.migrate("pantau_gateway", "gateway")
            pool = await people.gateway_pool(platform)
            from pantau_gateway import repository

            await repository.upsert_agency(pool, agency, "Bawaslu Uji", "bawaslu", "33.75")
            await pool.close()
            monkeypatch.setattr(sys, "stdin", io.StringIO(people.PASSWORD + "\n"))
            await add_user(
                infra,
                SETTINGS,
                argparse.Namespace(
                    agency=agency,
                    email=email(agency),
                    name="Budi",
                    role=["supervisor", "analyst"],
                    contacts=True,
                    password_stdin=True,
                ),
            )
            out = io.StringIO()
            monkeypatch.setattr(sys, "stdout", out)
            await add_key(
                infra,
                SETTINGS,
                argparse.Namespace(
                    agency=agency,
                    label="mitra",
                    rate_limit=None,
                    key=None,
                    role=["partner"],
                    scope=None,
                    contacts=False,
                ),
            )
            return out.getvalue().strip()
        finally:
            await infra.close()

    partner_key = asyncio.run(run())
    with client(platform) as gateway:
        person = people.sign_in(gateway, email(agency))
        me = gateway.get("/v1/sessions/current", headers=person.headers()).json()["user"]
        assert sorted(me["roles"]) == ["analyst", "supervisor"] and me["contacts"] is True
        is_problem(
            gateway.post("/v1/reports", json={"text": "mitra"}, headers={"X-API-Key": partner_key}), 403
        )
        # Allowed to read (no triage runs here, so the read itself is unavailable).
        assert gateway.get(CASE, headers={"X-API-Key": partner_key}).status_code == 503


def test_keys_made_before_roles_become_supervisors(platform: PlatformSettings) -> None:
    """Migration 002 on a schema holding a key of 001: the key keeps working, as a supervisor."""
    schema = "migration_" + secrets.token_hex(4)
    scripts = resources.files("pantau_gateway").joinpath("migrations")

    async def migrate() -> asyncpg.Record:
        conn = await asyncpg.connect(platform.database_url)
        try:
            await conn.execute(f"CREATE SCHEMA {schema}; SET search_path TO {schema}")
            await conn.execute(scripts.joinpath("001_agencies.sql").read_text())
            await conn.execute("INSERT INTO agencies VALUES ('a', 'A', 'bawaslu', NULL, now())")
            await conn.execute(
                "INSERT INTO api_keys (key_id, agency_id, secret_hash) VALUES ('k', 'a', '\\x00')"
            )
            await conn.execute(scripts.joinpath("002_people.sql").read_text())
            return await conn.fetchrow("SELECT roles, scopes, contacts FROM api_keys WHERE key_id = 'k'")
        finally:
            await conn.execute(f"DROP SCHEMA {schema} CASCADE")
            await conn.close()

    row = asyncio.run(migrate())
    assert (list(row["roles"]), row["scopes"], row["contacts"]) == (["supervisor"], None, False)


def test_a_user_changes_their_password_and_every_other_session_ends(
    platform: PlatformSettings, agency: str
) -> None:
    with client(platform) as gateway:
        people.user(platform, agency, email(agency), "patrol")
        here, elsewhere = people.sign_in(gateway, email(agency)), people.sign_in(gateway, email(agency))
        new = "kata-sandi-baru-yang-panjang"
        wrong = gateway.put(
            "/v1/sessions/current/password", json={"current": "bukan-ini", "new": new}, headers=here.headers()
        )
        is_problem(wrong, 403)
        changed = gateway.put(
            "/v1/sessions/current/password",
            json={"current": people.PASSWORD, "new": new},
            headers=here.headers(),
        )
        assert changed.status_code == 200, changed.text
        renewed = people.Person(
            here.user_id, here.email, changed.cookies[COOKIE], changed.json()["csrf_token"]
        )
        gateway.cookies.clear()
        for old in (here, elsewhere):
            is_problem(gateway.get("/v1/sessions/current", headers=old.headers()), 401)
        assert gateway.get("/v1/sessions/current", headers=renewed.headers()).status_code == 200
        is_problem(
            gateway.post("/v1/sessions", json={"email": email(agency), "password": people.PASSWORD}), 401
        )
        assert people.sign_in(gateway, email(agency), new).user_id == here.user_id


def test_an_admin_signs_a_user_out_everywhere(platform: PlatformSettings, agency: str) -> None:
    with client(platform) as gateway:
        admin = {"X-API-Key": people.key(platform, SETTINGS, agency, "admin")}
        user_id = people.user(platform, agency, email(agency), "supervisor")
        sessions = [people.sign_in(gateway, email(agency)) for _ in range(2)]
        is_problem(
            gateway.delete(
                f"/v1/users/{user_id}/sessions",
                headers={"X-API-Key": people.key(platform, SETTINGS, agency + "-x", "admin")},
            ),
            404,
        )
        assert gateway.get("/v1/sessions/current", headers=sessions[0].headers()).status_code == 200
        assert gateway.delete(f"/v1/users/{user_id}/sessions", headers=admin).status_code == 204
        for session in sessions:
            is_problem(gateway.get("/v1/sessions/current", headers=session.headers()), 401)
        # Not disabled: they sign in again.
        people.sign_in(gateway, email(agency))
