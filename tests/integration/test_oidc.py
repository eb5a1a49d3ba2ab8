"""Signing in through an OpenID Connect provider (a local one speaking the protocol over real
HTTP), with the gateway on real NATS, PostgreSQL and Redis."""

from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from pantau_gateway.app import create_app
from pantau_gateway.oidc import FLOW_COOKIE
from pantau_gateway.sessions import COOKIE
from pantau_shared.settings import PlatformSettings
from tests.integration import people
from tests.integration.test_gateway import is_problem
from tests.integration.test_people import SETTINGS
from tests.peers.oidc import CLIENT_ID, CLIENT_SECRET, OidcProvider


@pytest.fixture(scope="module")
def provider() -> Iterator[OidcProvider]:
    with OidcProvider() as running:
        yield running


@pytest.fixture
def gateway(platform: PlatformSettings, provider: OidcProvider) -> Iterator[TestClient]:
    settings = SETTINGS.model_copy(
        update={
            "oidc_issuer": provider.issuer,
            "oidc_client_id": CLIENT_ID,
            "oidc_client_secret": SecretStr(CLIENT_SECRET),
        }
    )
    site = platform.model_copy(update={"public_url": "https://testserver"})
    with TestClient(
        create_app(site, settings), raise_server_exceptions=False, base_url="https://testserver"
    ) as c:
        yield c


def through_the_provider(gateway: TestClient) -> str:
    """Starts signing in and follows the provider's redirect: the callback's path and query."""
    started = gateway.get("/v1/sessions/oidc", follow_redirects=False)
    assert started.status_code == 303, started.text
    assert FLOW_COOKIE in started.cookies
    back = httpx.get(started.headers["location"], follow_redirects=False)
    assert back.status_code == 302
    callback = urlsplit(back.headers["location"])
    assert (callback.scheme, callback.netloc, callback.path) == (
        "https",
        "testserver",
        "/v1/sessions/oidc/callback",
    )
    return f"{callback.path}?{callback.query}"


def test_a_user_signs_in_through_the_provider_with_the_roles_pantau_gives(
    platform: PlatformSettings, provider: OidcProvider, gateway: TestClient, agency: str
) -> None:
    email = f"oidc.{agency}@uji.go.id"
    people.user(platform, agency, email, "supervisor")
    provider.person = {"email": email.upper(), "email_verified": True, "name": "Siti"}
    callback = through_the_provider(gateway)
    signed_in = gateway.get(callback, follow_redirects=False)
    assert signed_in.status_code == 303, signed_in.text
    assert signed_in.headers["location"] == "/konsol/"
    assert COOKIE in signed_in.cookies
    current = gateway.get("/v1/sessions/current")
    assert current.status_code == 200 and current.json()["user"]["roles"] == ["supervisor"]
    # The state is good once.
    is_problem(gateway.get(callback, follow_redirects=False), 401)


def test_a_callback_in_another_browser_is_refused(
    platform: PlatformSettings, provider: OidcProvider, gateway: TestClient, agency: str
) -> None:
    email = f"oidc.{agency}@uji.go.id"
    people.user(platform, agency, email, "patrol")
    provider.person = {"email": email, "email_verified": True}
    callback = through_the_provider(gateway)
    gateway.cookies.clear()  # another browser: no flow cookie
    answer = gateway.get(callback, follow_redirects=False)
    assert "peramban ini" in is_problem(answer, 401)["detail"]
    assert COOKIE not in answer.cookies


@pytest.mark.parametrize(
    ("person", "rogue", "detail"),
    [
        ({"email": "belum.ada@uji.go.id", "email_verified": True}, False, "tidak ada akun aktif"),
        ({"email": "EMAIL", "email_verified": False}, False, "belum diverifikasi"),
        ({"email": "EMAIL", "email_verified": True}, True, "token identitas"),
    ],
)
def test_no_session_without_a_known_verified_user_and_a_token_signed_by_the_provider(
    platform: PlatformSettings,
    provider: OidcProvider,
    gateway: TestClient,
    agency: str,
    person: dict,
    rogue: bool,
    detail: str,
) -> None:
    email = f"oidc.{agency}@uji.go.id"
    people.user(platform, agency, email, "analyst")
    provider.person = {k: (email if v == "EMAIL" else v) for k, v in person.items()}
    provider.rogue = rogue
    try:
        answer = gateway.get(through_the_provider(gateway), follow_redirects=False)
    finally:
        provider.rogue = False
    assert detail in is_problem(answer, 401)["detail"]
    assert COOKIE not in answer.cookies


def test_without_a_provider_configured_oidc_is_not_found(platform: PlatformSettings) -> None:
    with TestClient(
        create_app(platform, SETTINGS), raise_server_exceptions=False, base_url="https://testserver"
    ) as c:
        is_problem(c.get("/v1/sessions/oidc", follow_redirects=False), 404)
