"""The role matrix: every declared route, every role (as an API key and as a signed-in user)
and two agencies, against the real gateway on real NATS, PostgreSQL and Redis.

A route refuses with 403 exactly the callers its declaration leaves out; a caller it lets in
is never answered 401/403/500, and every request it makes to the services names the caller's
own agency. Routes added later are covered without listing them here.
"""

import json
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from pantau_gateway.app import create_app
from pantau_gateway.roles import Endpoint, Requirement, Role, Scope, endpoints
from pantau_gateway.settings import GatewaySettings
from pantau_shared.settings import PlatformSettings
from tests.integration import people
from tests.integration.responder import Responder
from tests.integration.test_gateway import is_problem
from tests.unit.services.test_gateway_roles import FRAMEWORK

SETTINGS = GatewaySettings(default_rate_limit=100_000, user_rate_limit=100_000, auth_failure_limit=100_000)
CONSOLE = "/konsol/"
# Values that fit each path parameter's pattern, so the request reaches the authorization.
PARAMETERS = {"publisher": "agency-lain", "key_id": "0123456789ab", "agency_id": "agency-lain"}


@dataclass(frozen=True)
class Caller:
    label: str
    agency: str
    roles: frozenset[Role]
    scopes: frozenset[Scope] | None
    contacts: bool
    headers: dict[str, str]
    session: bool


NOT_FOUND = json.dumps({"error": {"code": "not_found", "detail": "tidak ada"}}).encode()


class Recorder(Responder):
    """Answers every request with not_found, remembering its agency: the matrix can then tell
    which agency each allowed request was made for."""

    def __init__(self, platform: PlatformSettings) -> None:
        self.agencies: list[str] = []
        super().__init__(platform, self._record)

    def _record(self, agency: str, method: str, body: bytes) -> bytes:
        self.agencies.append(agency)
        return NOT_FOUND


@pytest.fixture(scope="module")
def gateway(platform: PlatformSettings) -> Iterator[TestClient]:
    with TestClient(
        create_app(platform, SETTINGS), raise_server_exceptions=False, base_url="https://testserver"
    ) as c:
        yield c


def callers(platform: PlatformSettings, client: TestClient) -> list[Caller]:
    made: list[Caller] = []
    for agency in ("agency-a" + secrets.token_hex(3), "agency-b" + secrets.token_hex(3)):
        for role in Role:
            roles = frozenset({role})
            headers = {"X-API-Key": people.key(platform, SETTINGS, agency, role.value)}
            made.append(Caller(f"{role} key of {agency}", agency, roles, None, False, headers, False))
            email = f"{role}.{agency}@uji.go.id"
            people.user(platform, agency, email, role.value)
            person = people.sign_in(client, email)
            made.append(
                Caller(f"{role} user of {agency}", agency, roles, None, False, person.headers(), True)
            )
        # The separate grant, and a key narrowed to one scope.
        contacts = people.key(platform, SETTINGS, agency, "patrol", contacts=True)
        made.append(
            Caller(
                f"patrol key with contacts of {agency}",
                agency,
                frozenset({Role.PATROL}),
                None,
                True,
                {"X-API-Key": contacts},
                False,
            )
        )
        email = f"pelapor.{agency}@uji.go.id"
        people.user(platform, agency, email, "analyst", contacts=True)
        made.append(
            Caller(
                f"analyst user with contacts of {agency}",
                agency,
                frozenset({Role.ANALYST}),
                None,
                True,
                people.sign_in(client, email).headers(),
                True,
            )
        )
        collector = people.key(platform, SETTINGS, agency, "supervisor", scopes=("reports:submit",))
        made.append(
            Caller(
                f"collector key of {agency}",
                agency,
                frozenset({Role.SUPERVISOR}),
                frozenset({Scope.REPORTS_SUBMIT}),
                False,
                {"X-API-Key": collector},
                False,
            )
        )
    return made


def allowed(requirement: Requirement, caller: Caller) -> bool:
    """The policy as this test reads it, independent of `Requirement.refusal`."""
    if not requirement.roles & caller.roles:
        return False
    if requirement.scope is None and not caller.session:
        return False
    if requirement.scope is not None and caller.scopes is not None and requirement.scope not in caller.scopes:
        return False
    return caller.contacts or not requirement.contacts


def url(endpoint: Endpoint) -> str:
    return re.sub(
        r"\{(\w+)\}", lambda m: PARAMETERS.get(m[1], "0190d5b6-8a1e-7c3b-9d2e-4f5a6b7c8d9e"), endpoint.path
    )


def guarded(app_endpoints: list[Endpoint]) -> list[tuple[str, Endpoint]]:
    routes = [
        (method, e)
        for e in app_endpoints
        if e.path not in FRAMEWORK
        and e.declared is not None
        and e.declared.requirement is not None
        # The console answers with pages, not problems: tests/integration/test_console.py walks it.
        and not e.path.startswith(CONSOLE)
        for method in sorted(e.methods)
    ]
    # Signing out ends the session the next requests use: last.
    return sorted(routes, key=lambda r: r[1].name == "end_session")


def test_every_route_refuses_exactly_the_roles_it_leaves_out_in_every_agency(
    platform: PlatformSettings, gateway: TestClient
) -> None:
    everyone = callers(platform, gateway)
    routes = guarded(endpoints(gateway.app))  # type: ignore[arg-type]
    assert len(routes) >= 25
    checked = 0
    with Recorder(platform) as recorder:
        for method, endpoint in routes:
            requirement = endpoint.declared.requirement  # type: ignore[union-attr]
            assert requirement is not None
            anonymous = gateway.request(method, url(endpoint), json={})
            is_problem(anonymous, 401)
            for caller in everyone:
                before = len(recorder.agencies)
                answer = gateway.request(method, url(endpoint), json={}, headers=caller.headers)
                where = (
                    f"{method} {endpoint.path} by {caller.label}: {answer.status_code} {answer.text[:200]}"
                )
                if allowed(requirement, caller):
                    assert answer.status_code not in (401, 403, 429) and answer.status_code < 500, where
                    assert set(recorder.agencies[before:]) <= {caller.agency}, where
                else:
                    assert answer.status_code == 403, where
                    assert is_problem(answer, 403)["detail"]
                    assert len(recorder.agencies) == before, f"{where}: a refused request reached a service"
                checked += 1
    print(f"role matrix: {len(routes)} routes x {len(everyone)} callers = {checked} requests")
    assert checked == len(routes) * len(everyone)


def test_a_session_change_without_its_csrf_token_is_refused(
    platform: PlatformSettings, gateway: TestClient
) -> None:
    agency = "agency-" + secrets.token_hex(4)
    email = f"patroli.{agency}@uji.go.id"
    people.user(platform, agency, email, "patrol")
    person = people.sign_in(gateway, email)
    body = {"to": "verifying", "actor": "Petugas Uji"}
    path = "/v1/cases/0190d5b6-8a1e-7c3b-9d2e-4f5a6b7c8d9e/transitions"
    missing = gateway.post(path, json=body, headers=person.headers(csrf=False))
    assert "CSRF" in is_problem(missing, 403)["detail"]
    wrong = gateway.post(path, json=body, headers={**person.headers(), "X-CSRF-Token": "0" * 64})
    is_problem(wrong, 403)
    # A form post carries the token as a field; reads need none.
    form = gateway.post(
        path, data={"csrf_token": person.csrf}, headers={"Cookie": person.headers()["Cookie"]}
    )
    assert form.status_code not in (401, 403), form.text
    assert gateway.get("/v1/sessions/current", headers=person.headers(csrf=False)).status_code == 200
