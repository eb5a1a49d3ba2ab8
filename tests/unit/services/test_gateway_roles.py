"""Every gateway route declares who may call it, and the declarations are the agencies' policy.

The behaviour behind the declarations (403s, agencies kept apart) is
`tests/integration/test_roles.py`; this file needs no server.
"""

from fastapi import FastAPI

from pantau_gateway.app import create_app
from pantau_gateway.roles import Endpoint, Role, Scope, endpoints
from pantau_gateway.settings import GatewaySettings
from pantau_shared.settings import PlatformSettings

# Served by FastAPI itself (the documentation pages); they cannot take a dependency.
FRAMEWORK = {"/docs", "/docs/oauth2-redirect", "/redoc"}

A, S, N, P, R = Role.ADMIN, Role.SUPERVISOR, Role.ANALYST, Role.PATROL, Role.PARTNER
EVERYONE = {A, S, N, P, R}
STAFF = {A, S, N, P}
# The policy, written here apart from the code: (roles, scope, needs the contacts grant).
POLICY: dict[tuple[str, str], tuple[set[Role], Scope | None, bool]] = {
    ("POST", "/v1/reports"): (STAFF, Scope.REPORTS_SUBMIT, False),
    ("POST", "/v1/reports:batch"): (STAFF, Scope.REPORTS_SUBMIT, False),
    ("GET", "/v1/reports/{report_id}"): (EVERYONE, Scope.REPORTS_READ, False),
    ("GET", "/v1/cases/{case_id}"): (EVERYONE, Scope.CASES_READ, False),
    ("GET", "/v1/cases/{case_id}/notifications"): (EVERYONE, Scope.CASES_READ, False),
    ("GET", "/v1/cases/{case_id}/history"): (EVERYONE, Scope.CASES_READ, False),
    ("GET", "/v1/cases/{case_id}/referrals"): (EVERYONE, Scope.CASES_READ, False),
    ("GET", "/v1/cases/{case_id}/reporters"): (STAFF, Scope.CONTACTS_READ, True),
    ("POST", "/v1/cases/{case_id}/transitions"): (STAFF, Scope.CASES_WRITE, False),
    ("PUT", "/v1/cases/{case_id}/categories"): ({A, S, N}, Scope.CASES_WRITE, False),
    ("PUT", "/v1/cases/{case_id}/referral"): (STAFF, Scope.CASES_WRITE, False),
    ("POST", "/v1/notifications/{delivery_id}/ack"): (STAFF, Scope.CASES_WRITE, False),
    ("GET", "/v1/referrals"): (EVERYONE, Scope.CASES_READ, False),
    ("POST", "/v1/referrals/{referral_id}/accept"): ({A, S}, Scope.CASES_WRITE, False),
    ("POST", "/v1/referrals/{referral_id}/decline"): ({A, S}, Scope.CASES_WRITE, False),
    ("POST", "/v1/claims"): ({A, S, N}, Scope.CLAIMS_WRITE, False),
    ("PUT", "/v1/claims/subscriptions/{publisher}"): ({A, S}, Scope.CLAIMS_WRITE, False),
    ("DELETE", "/v1/claims/subscriptions/{publisher}"): ({A, S}, Scope.CLAIMS_WRITE, False),
    ("GET", "/v1/sessions/current"): (EVERYONE, None, False),
    ("DELETE", "/v1/sessions/current"): (EVERYONE, None, False),
    ("PUT", "/v1/sessions/current/password"): (EVERYONE, None, False),
    ("DELETE", "/v1/users/{user_id}/sessions"): ({A}, Scope.PEOPLE_ADMIN, False),
    ("GET", "/v1/audit"): ({A}, Scope.AUDIT_READ, False),
    ("GET", "/v1/audit/verification"): ({A}, Scope.AUDIT_READ, False),
    ("GET", "/v1/users"): ({A}, Scope.PEOPLE_ADMIN, False),
    ("POST", "/v1/users"): ({A}, Scope.PEOPLE_ADMIN, False),
    ("GET", "/v1/users/{user_id}"): ({A}, Scope.PEOPLE_ADMIN, False),
    ("PATCH", "/v1/users/{user_id}"): ({A}, Scope.PEOPLE_ADMIN, False),
    ("GET", "/v1/keys"): ({A}, Scope.PEOPLE_ADMIN, False),
    ("POST", "/v1/keys"): ({A}, Scope.PEOPLE_ADMIN, False),
    ("DELETE", "/v1/keys/{key_id}"): ({A}, Scope.PEOPLE_ADMIN, False),
}
# Open on purpose, each with the reason it gives.
PUBLIC = {
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/ack/{agency_id}/{delivery_id}"),
    ("POST", "/ack/{agency_id}/{delivery_id}"),
    ("GET", "/kasus/{agency_id}/{case_id}"),
    ("GET", "/webhooks/whatsapp/{agency_id}"),
    ("POST", "/webhooks/whatsapp/{agency_id}"),
    ("POST", "/v1/sessions"),
    ("GET", "/v1/sessions/oidc"),
    ("GET", "/v1/sessions/oidc/callback"),
    ("GET", "/konsol/masuk"),
    ("POST", "/konsol/masuk"),
    ("GET", "/konsol/console.css"),
}


def app() -> FastAPI:
    return create_app(PlatformSettings(environment="test"), GatewaySettings())


def declared() -> dict[tuple[str, str], Endpoint]:
    return {(method, e.path): e for e in endpoints(app()) if e.path not in FRAMEWORK for method in e.methods}


def test_every_route_declares_its_roles_or_why_it_is_public() -> None:
    undeclared = sorted(f"{method} {path}" for (method, path), e in declared().items() if e.declared is None)
    assert not undeclared, (
        "routes without roles.require(...) or roles.public(reason), or with more than one: "
        + ", ".join(undeclared)
    )


def test_the_declarations_are_the_policy() -> None:
    routes = declared()
    for route, (roles, scope, contacts) in POLICY.items():
        assert route in routes, f"{route} is gone: take it out of the policy"
        requirement = routes[route].declared.requirement  # type: ignore[union-attr]
        assert requirement is not None, f"{route} must not be public"
        assert (set(requirement.roles), requirement.scope, requirement.contacts) == (
            roles,
            scope,
            contacts,
        ), route
    for route in PUBLIC:
        assert route in routes
        reason = routes[route].declared.public  # type: ignore[union-attr]
        assert reason and len(reason) > 10, f"{route} must say why it is public"
    # Routes added since: declared (the test above), and open only with a reason listed here.
    for route, endpoint in routes.items():
        if route not in POLICY and endpoint.declared is not None:
            assert endpoint.declared.public is None or route in PUBLIC, (
                f"{route} is public: list it in PUBLIC"
            )


def test_only_documentation_pages_are_outside_the_declarations() -> None:
    outside = {e.path for e in endpoints(app()) if e.declared is None}
    assert outside <= FRAMEWORK


def test_the_openapi_document_lists_each_operations_roles() -> None:
    document = app().openapi()
    security = document["paths"]["/v1/cases/{case_id}/transitions"]["post"]["security"]
    assert {
        "ApiKey": ["role:admin", "role:supervisor", "role:analyst", "role:patrol", "scope:cases:write"]
    } in security
    assert any("Session" in requirement for requirement in security)
    assert document["paths"]["/v1/users"]["get"]["security"][0]["ApiKey"] == [
        "role:admin",
        "scope:people:admin",
    ]
    reporters = document["paths"]["/v1/cases/{case_id}/reporters"]["get"]["security"][0]["ApiKey"]
    assert "contacts" in reporters
    assert "security" not in document["paths"]["/v1/sessions"]["post"]


def test_only_report_intake_is_left_out_of_the_audit_log() -> None:
    unaudited = {
        route
        for route, e in declared().items()
        if e.declared is not None and e.declared.requirement is not None and e.declared.requirement.unaudited
    }
    assert unaudited == {("POST", "/v1/reports"), ("POST", "/v1/reports:batch")}
