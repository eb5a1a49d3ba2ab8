"""Staff and keys for the gateway's tests, made as the CLI and the admin API make them, on the
run's real PostgreSQL."""

import asyncio
from dataclasses import dataclass

import asyncpg
from fastapi.testclient import TestClient

from pantau_gateway import repository, users
from pantau_gateway.sessions import COOKIE
from pantau_gateway.settings import DEV_PEPPER, GatewaySettings
from pantau_shared.postgres import migrate
from pantau_shared.settings import PlatformSettings
from tests.integration.test_gateway import create_key

PASSWORD = "kata-sandi-uji-panjang"


@dataclass(frozen=True)
class Person:
    """A user's id and a signed-in session: the cookie header and the CSRF token it needs."""

    user_id: str
    email: str
    cookie: str
    csrf: str

    def headers(self, csrf: bool = True) -> dict[str, str]:
        return {"Cookie": f"{COOKIE}={self.cookie}", **({"X-CSRF-Token": self.csrf} if csrf else {})}


async def gateway_pool(platform: PlatformSettings) -> asyncpg.Pool:
    """A pool on the gateway's schema, migrated (as a gateway instance's own would be)."""
    pool = await asyncpg.create_pool(
        platform.database_url, min_size=1, max_size=2, server_settings={"search_path": "gateway"}
    )
    await migrate(pool, schema="gateway", package="pantau_gateway")
    return pool


async def key_async(platform: PlatformSettings, agency: str, *roles: str, **grant: object) -> str:
    """A key with these roles (and `scopes=`, `contacts=`), as `add-key` makes one, with the
    development pepper every test's settings have."""
    return await create_key(platform, agency, None, repository.Grant(tuple(roles), **grant))  # type: ignore[arg-type]


def key(
    platform: PlatformSettings, settings: GatewaySettings, agency: str, *roles: str, **grant: object
) -> str:
    assert settings.api_key_pepper.get_secret_value() == DEV_PEPPER
    return asyncio.run(key_async(platform, agency, *roles, **grant))


async def _user(platform: PlatformSettings, agency: str, email: str, roles: list[str], contacts: bool) -> str:
    pool = await gateway_pool(platform)
    try:
        await repository.upsert_agency(pool, agency, "Bawaslu Uji", "bawaslu", "33.75")
        user = await users.create(
            pool,
            agency_id=agency,
            email=email,
            name="Petugas Uji",
            password=PASSWORD,
            roles=roles,
            contacts=contacts,
        )
        assert user is not None
        return str(user.user_id)
    finally:
        await pool.close()


def user(platform: PlatformSettings, agency: str, email: str, *roles: str, contacts: bool = False) -> str:
    return asyncio.run(_user(platform, agency, email, list(roles), contacts))


def sign_in(client: TestClient, email: str, password: str = PASSWORD) -> Person:
    """Signs in through the API; the session's cookie is taken out of the client's jar, so one
    client can act as several people."""
    answer = client.post("/v1/sessions", json={"email": email, "password": password})
    assert answer.status_code == 201, answer.text
    cookie = answer.cookies[COOKIE]
    client.cookies.clear()
    body = answer.json()
    return Person(body["user"]["user_id"], email, cookie, body["csrf_token"])
