"""The console's guards against the real gateway on real NATS, PostgreSQL and Redis: its routes
in the role matrix (answered with pages, not problems), the CSRF token on every form, the
sign-in form, its headers, and its absence from the API document.

What the pages show and do with the services behind them, their forms' tokens included, is the
browser test's (`tests/browser/test_console.py`)."""

import re
import secrets
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from pantau_gateway.app import create_app
from pantau_gateway.roles import endpoints
from pantau_gateway.sessions import COOKIE
from pantau_shared.settings import PlatformSettings
from tests.integration import people
from tests.integration.test_roles import SETTINGS, Recorder, allowed, callers, url

CASE = "/konsol/kasus/0190d5b6-8a1e-7c3b-9d2e-4f5a6b7c8d9e"


@pytest.fixture(scope="module")
def gateway(platform: PlatformSettings) -> Iterator[TestClient]:
    # https: the session cookie is Secure, as it is in a browser.
    with TestClient(
        create_app(platform, SETTINGS),
        raise_server_exceptions=False,
        base_url="https://testserver",
        follow_redirects=False,
    ) as client:
        yield client


def is_page(response: Response, status: int) -> str:
    """An HTML page in Indonesian, never a problem+json, with the console's headers."""
    assert response.status_code == status, response.text[:300]
    assert response.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "no-store"
    assert '<html lang="id">' in response.text
    return response.text


def test_console_routes_refuse_exactly_the_roles_they_leave_out_with_a_page(
    platform: PlatformSettings, gateway: TestClient
) -> None:
    everyone = callers(platform, gateway)
    routes = [
        (method, e)
        for e in endpoints(gateway.app)  # type: ignore[arg-type]
        if e.path.startswith("/konsol/") and e.declared is not None and e.declared.requirement is not None
        for method in sorted(e.methods)
    ]
    # Signing out ends the session the next requests use: last.
    routes.sort(key=lambda r: r[1].name == "sign_out")
    assert len(routes) >= 9
    with Recorder(platform) as recorder:
        for method, endpoint in routes:
            requirement = endpoint.declared.requirement  # type: ignore[union-attr]
            assert requirement is not None
            target = url(endpoint)
            # Signed out: to the sign-in page, and back to this page (a form post: the console).
            anonymous = gateway.request(method, target)
            assert anonymous.status_code == 303, f"{method} {target}: {anonymous.status_code}"
            assert anonymous.headers["location"].startswith("/konsol/masuk?lanjut=")
            for caller in everyone:
                before = len(recorder.agencies)
                answer = gateway.request(method, target, data={}, headers=caller.headers)
                where = (
                    f"{method} {endpoint.path} by {caller.label}: {answer.status_code} {answer.text[:200]}"
                )
                if allowed(requirement, caller):
                    assert answer.status_code not in (401, 403, 429) and answer.status_code < 500, where
                    assert "problem+json" not in answer.headers.get("content-type", ""), where
                    assert set(recorder.agencies[before:]) <= {caller.agency}, where
                else:
                    assert "Tidak diizinkan" in is_page(answer, 403), where
                    assert len(recorder.agencies) == before, f"{where}: a refused request reached a service"


def test_a_console_form_without_its_sessions_csrf_token_is_refused_with_a_page(
    platform: PlatformSettings, gateway: TestClient
) -> None:
    agency = "agency-" + secrets.token_hex(4)
    email = f"patroli.{agency}@uji.go.id"
    people.user(platform, agency, email, "patrol")
    person = people.sign_in(gateway, email)
    cookie = {"Cookie": person.headers()["Cookie"]}
    form = {"to": "verifying"}
    missing = gateway.post(f"{CASE}/status", data=form, headers=cookie)
    assert "CSRF" in is_page(missing, 403)
    wrong = gateway.post(f"{CASE}/status", data={**form, "csrf_token": "0" * 64}, headers=cookie)
    assert "CSRF" in is_page(wrong, 403)
    # Another user's token is no better: it is bound to that user's session.
    other = f"lain.{agency}@uji.go.id"
    people.user(platform, agency, other, "patrol")
    theirs = people.sign_in(gateway, other).csrf
    assert "CSRF" in is_page(
        gateway.post(f"{CASE}/status", data={**form, "csrf_token": theirs}, headers=cookie), 403
    )


def sign_in_form(client: TestClient, target: str = "/konsol/") -> str:
    """The form's CSRF token; its cookie stays in the client's jar."""
    page = is_page(client.get("/konsol/masuk", params={"lanjut": target}), 200)
    found = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', page)
    assert found is not None
    return found[1]


def test_signing_in_with_the_form_lands_on_the_page_asked_for_and_never_elsewhere(
    platform: PlatformSettings, gateway: TestClient
) -> None:
    agency = "agency-" + secrets.token_hex(4)
    email = f"analis.{agency}@uji.go.id"
    people.user(platform, agency, email, "analyst")
    gateway.cookies.clear()
    token = sign_in_form(gateway)
    wrong = gateway.post(
        "/konsol/masuk", data={"email": email, "password": "bukan-ini-sandinya", "csrf_token": token}
    )
    assert "salah" in is_page(wrong, 401)
    assert COOKIE not in wrong.cookies
    # A form made up by another site (no form cookie of this browser) signs nobody in.
    gateway.cookies.clear()
    forged = gateway.post(
        "/konsol/masuk", data={"email": email, "password": people.PASSWORD, "csrf_token": token}
    )
    assert "kedaluwarsa" in is_page(forged, 403)
    assert COOKIE not in forged.cookies

    token = sign_in_form(gateway, "/konsol/dasbor?status=terbuka")
    signed_in = gateway.post(
        "/konsol/masuk",
        data={
            "email": email,
            "password": people.PASSWORD,
            "csrf_token": token,
            "lanjut": "/konsol/dasbor?status=terbuka",
        },
    )
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/konsol/dasbor?status=terbuka"
    assert "httponly" in signed_in.headers["set-cookie"].lower()
    for elsewhere in ("https://penipu.example/konsol/", "//penipu.example/", "/v1/users"):
        gateway.cookies.clear()
        token = sign_in_form(gateway)
        answer = gateway.post(
            "/konsol/masuk",
            data={"email": email, "password": people.PASSWORD, "csrf_token": token, "lanjut": elsewhere},
        )
        assert answer.status_code == 303 and answer.headers["location"] == "/konsol/", elsewhere
    gateway.cookies.clear()


def test_the_console_is_not_in_the_api_document(gateway: TestClient) -> None:
    paths = gateway.get("/openapi.json").json()["paths"]
    assert paths and not [p for p in paths if p.startswith("/konsol")]
    stylesheet = gateway.get("/konsol/console.css")
    assert stylesheet.status_code == 200 and stylesheet.headers["content-type"].startswith("text/css")
