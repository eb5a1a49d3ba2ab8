"""Who may call what: roles, key scopes, and the declaration every route makes.

A route takes its caller as `Annotated[Principal, require(Role.SUPERVISOR, ..., scope=...)]`,
or declares `dependencies=[public("why")]` when it is open (probes, signed links, webhooks
verified by signature, signing in). The role matrix test walks every route of the app and
fails on one that declares neither. The roles and the scope travel as FastAPI security scopes,
so the OpenAPI document lists them on each operation's `security` requirement (OpenAPI 3.1
allows role names there for non-OAuth schemes).
"""

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Request, Security
from fastapi.dependencies.models import Dependant
from fastapi.routing import iter_route_contexts
from fastapi.security import APIKeyCookie, APIKeyHeader, SecurityScopes

from .auditing import mark
from .auth import Caller
from .deps import State
from .problems import Problem
from .sessions import COOKIE, CSRF_FIELD, CSRF_HEADER, csrf_valid


class Role(StrEnum):
    ADMIN = "admin"  # manages the agency's people and keys, reads the audit log
    SUPERVISOR = "supervisor"  # hands out and decides cases, referrals, claims
    ANALYST = "analyst"  # verifies and corrects classification, curates claims
    PATROL = "patrol"  # acknowledges alerts and moves cases along
    PARTNER = "partner"  # a partner's system or person: reads only


ALL_ROLES = tuple(Role)
STAFF = (Role.ADMIN, Role.SUPERVISOR, Role.ANALYST, Role.PATROL)


class Scope(StrEnum):
    """What a key may be used for, below its roles: a collector's key gets `reports:submit`
    alone, so a leaked collector key reads nothing. Users' sessions have every scope."""

    REPORTS_SUBMIT = "reports:submit"
    REPORTS_READ = "reports:read"
    CASES_READ = "cases:read"
    CASES_WRITE = "cases:write"
    CLAIMS_WRITE = "claims:write"
    CONTACTS_READ = "contacts:read"
    EXPORTS_READ = "exports:read"
    PEOPLE_ADMIN = "people:admin"
    AUDIT_READ = "audit:read"


CONTACTS = "contacts"
UNAUDITED = "unaudited"
_ROLE, _SCOPE = "role:", "scope:"


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: a user signed in to the console, or an API key."""

    agency_id: str
    kind: Literal["user", "key"]
    id: str
    roles: frozenset[Role]
    # None: every scope (users; keys issued without a scope list).
    scopes: frozenset[Scope] | None
    contacts: bool
    address: str
    rate_limit: int
    # A console session's CSRF token, which its form posts and htmx requests must echo, and
    # when the session ends.
    csrf_token: str | None = None
    expires_at: datetime | None = None

    @property
    def name(self) -> str:
        """As recorded on changes and in the audit log: `user:<id>` or `key:<id>`."""
        return f"{self.kind}:{self.id}"


@dataclass(frozen=True)
class Requirement:
    roles: frozenset[Role]
    scope: Scope | None
    contacts: bool
    # Changes are audited unless the route says otherwise (report intake); contact reads always.
    unaudited: bool = False

    @classmethod
    def of(cls, scopes: Iterable[str]) -> "Requirement":
        listed = list(scopes)
        return cls(
            roles=frozenset(Role(s.removeprefix(_ROLE)) for s in listed if s.startswith(_ROLE)),
            scope=next((Scope(s.removeprefix(_SCOPE)) for s in listed if s.startswith(_SCOPE)), None),
            contacts=CONTACTS in listed,
            unaudited=UNAUDITED in listed,
        )

    def audited(self, method: str) -> bool:
        return self.contacts or (method not in _SAFE and not self.unaudited)

    def refusal(self, principal: Principal) -> str | None:
        """Why the principal may not, in the user's language; None when it may."""
        if not self.roles & principal.roles:
            held = ", ".join(sorted(principal.roles)) or "-"
            return f"peran Anda ({held}) tidak cukup; perlu salah satu dari: {', '.join(sorted(self.roles))}"
        if self.scope is None and principal.kind != "user":
            return "permintaan ini hanya untuk sesi konsol, bukan untuk kunci API"
        if self.scope is not None and principal.scopes is not None and self.scope not in principal.scopes:
            return f"kunci API ini tidak diberi cakupan {self.scope}"
        if self.contacts and not principal.contacts:
            return "Anda tidak diberi hak melihat kontak pelapor"
        return None


def require(*roles: Role, scope: Scope | None, contacts: bool = False, audited: bool = True) -> Any:
    """The caller, who must hold one of `roles`; a key must also have `scope`, and with
    `contacts` the caller must have been granted the right to see reporter contacts.

    `scope=None`: a console session only (routes about the caller's own session; keys get
    403). `audited=False` only
    for report intake: the public's reports arriving change nothing that exists, come at surge
    rates, and intake stores each with its agency, channel and time."""
    if not roles:
        raise ValueError("declare at least one role; an open route is public(reason)")
    scopes = [_ROLE + r for r in roles] + ([_SCOPE + scope] if scope else [])
    scopes += ([CONTACTS] if contacts else []) + ([] if audited else [UNAUDITED])
    return Security(authorize, scopes=scopes)


class Public:
    """The declaration of an open route, with the reason it is open; `audited_as` names the
    principal its changes are logged under (the agency is the path's `agency_id`)."""

    def __init__(self, reason: str, audited_as: str | None) -> None:
        self.reason = reason
        self.audited_as = audited_as

    async def __call__(self, request: Request) -> None:
        if self.audited_as is not None and request.method not in _SAFE:
            mark(request, str(request.path_params.get("agency_id", "")), self.audited_as)


def public(reason: str, audited_as: str | None = None) -> Any:
    return Depends(Public(reason, audited_as))


@dataclass(frozen=True)
class Declaration:
    requirement: Requirement | None
    public: str | None


@dataclass(frozen=True)
class Endpoint:
    path: str
    methods: frozenset[str]
    name: str
    declared: Declaration | None


def endpoints(app: FastAPI) -> list[Endpoint]:
    """Every route of the app with a dependency tree (routers included), and what it declared:
    None when it declared nothing (the matrix test fails on that)."""
    found: list[Endpoint] = []
    for route in iter_route_contexts(app.routes):
        dependant = getattr(route, "dependant", None)
        if isinstance(dependant, Dependant):
            found.append(
                Endpoint(
                    route.path or "", frozenset(route.methods or ()), route.name or "", _declared(dependant)
                )
            )
    return found


def _declared(root: Dependant) -> Declaration | None:
    found: list[Declaration] = []

    def walk(dependant: Dependant) -> None:
        for sub in dependant.dependencies:
            if sub.call is authorize:
                found.append(Declaration(Requirement.of(sub.own_oauth_scopes or []), None))
            elif isinstance(sub.call, Public):
                found.append(Declaration(None, sub.call.reason))
            walk(sub)

    walk(root)
    if len(found) != 1:
        return None
    return found[0]


api_key_header = APIKeyHeader(
    name="X-API-Key",
    scheme_name="ApiKey",
    auto_error=False,
    description="The agency's API key: pk_<id>_<secret> (also as `Authorization: Bearer`)",
)
session_cookie = APIKeyCookie(
    name=COOKIE,
    scheme_name="Session",
    auto_error=False,
    description="A console session (POST /v1/sessions signs in); changes need X-CSRF-Token",
)
_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


async def authorize(
    request: Request,
    security_scopes: SecurityScopes,
    key: Annotated[str | None, Security(api_key_header)],
    session: Annotated[str | None, Security(session_cookie)],
) -> Principal:
    """Authenticates the caller (an API key, else a session cookie), rate-limits it, and checks
    the route's requirement; the principal is also left on `request.state` for the audit log."""
    current: State = request.state.pantau
    address = request.client.host if request.client else "unknown"
    if not key:
        authorization = request.headers.get("authorization", "")
        key = authorization[7:] if authorization.lower().startswith("bearer ") else None
    if key:
        principal, retry_after = await _key_holder(current, key, address)
    elif session:
        principal = await _session_holder(current, request, session, address)
        retry_after = await current.limiter.hit(principal.name, principal.rate_limit)
    else:
        raise Problem(
            401,
            "kirim kunci API instansi Anda di header X-API-Key, atau masuk ke konsol",
            headers={"WWW-Authenticate": "ApiKey"},
        )
    if retry_after is not None:
        raise Problem(
            429,
            f"lebih dari {principal.rate_limit} permintaan per menit dengan kunci ini; coba lagi nanti",
            headers={"Retry-After": str(retry_after)},
        )
    request.state.principal = principal
    requirement = _requirement(tuple(security_scopes.scopes))
    if requirement.audited(request.method):
        # Changes and reads of personal data go into the audit log, refusals included.
        mark(request, principal.agency_id, principal.name)
    refusal = requirement.refusal(principal)
    if refusal is not None:
        raise Problem(403, refusal)
    return principal


async def _key_holder(current: State, key: str, address: str) -> tuple[Principal, int | None]:
    """The key's holder, and the seconds to wait when the key is over its rate limit. A key
    verified a moment ago costs one Redis round trip: the address's failed keys and the key's
    count are asked together; any other key is looked up only if the address is not blocked."""
    # The client's address as uvicorn saw it (X-Forwarded-For only from FORWARDED_ALLOW_IPS).
    cached = current.keys.cached(key)
    if cached is not None:
        principal = _key_principal(cached, address)
        blocked, retry_after = await current.limiter.hit_verified(
            principal.name, principal.rate_limit, address
        )
        if blocked is not None:
            raise _too_many_failures(current, blocked)
        return principal, retry_after
    blocked = await current.limiter.auth_blocked(address)
    who = None
    if blocked is None:
        who = await current.keys.verify(key)
        if who is None:
            blocked = await current.limiter.failed_auth(address)
    if blocked is not None:
        raise _too_many_failures(current, blocked)
    if who is None:
        raise Problem(
            401, "kunci API tidak dikenal atau sudah dicabut", headers={"WWW-Authenticate": "ApiKey"}
        )
    principal = _key_principal(who, address)
    return principal, await current.limiter.hit(principal.name, principal.rate_limit)


def _too_many_failures(current: State, retry_after: int) -> Problem:
    return Problem(
        429,
        f"lebih dari {current.limiter.auth_failure_limit} kunci API salah per menit dari alamat ini;"
        " coba lagi nanti",
        headers={"Retry-After": str(retry_after)},
    )


def _key_principal(who: Caller, address: str) -> Principal:
    return Principal(
        agency_id=who.agency_id,
        kind="key",
        id=who.key_id,
        roles=_roles(who.roles),
        scopes=_scopes(who.scopes),
        contacts=who.contacts,
        address=address,
        rate_limit=who.rate_limit,
    )


async def _session_holder(current: State, request: Request, token: str, address: str) -> Principal:
    found = await current.sessions.find(token)
    if found is None:
        raise Problem(
            401, "sesi Anda sudah berakhir; silakan masuk lagi", headers={"WWW-Authenticate": "Session"}
        )
    if request.method not in _SAFE:
        presented = request.headers.get(CSRF_HEADER)
        if presented is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")
        ):
            field = (await request.form()).get(CSRF_FIELD)
            presented = field if isinstance(field, str) else None
        if not csrf_valid(token, presented):
            raise Problem(403, "token CSRF tidak ada atau tidak cocok; muat ulang halaman lalu coba lagi")
    return Principal(
        agency_id=found.agency_id,
        kind="user",
        id=str(found.user_id),
        roles=_roles(found.roles),
        scopes=None,
        contacts=found.contacts,
        address=address,
        rate_limit=current.user_rate_limit,
        csrf_token=found.csrf_token,
        expires_at=found.expires_at,
    )


# A route's requirement is one of a few dozen scope lists, parsed once each instead of per request.
@functools.lru_cache(maxsize=256)
def _requirement(scopes: tuple[str, ...]) -> Requirement:
    return Requirement.of(scopes)


_ROLES = {r.value for r in Role}
_SCOPES = {s.value for s in Scope}


# Grants are the same few tuples request after request (a cached key's, a session's), and
# building enum sets from their names was a measurable share of a single POST's CPU.
@functools.lru_cache(maxsize=1024)
def _roles(names: tuple[str, ...]) -> frozenset[Role]:
    # A role removed from the code but still on a row grants nothing rather than failing.
    return frozenset(Role(n) for n in names if n in _ROLES)


@functools.lru_cache(maxsize=1024)
def _scopes(names: tuple[str, ...] | None) -> frozenset[Scope] | None:
    return None if names is None else frozenset(Scope(s) for s in names if s in _SCOPES)
