"""Request dependencies: the lifespan state, settings, and the command fields of a request.
(The authenticated caller is `roles.require`'s.)"""

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, TypedDict
from uuid import UUID

from fastapi import Depends, Header, Request

from pantau_shared.bus import Publisher, RpcClient
from pantau_shared.contract import new_id, stable_id
from pantau_shared.infrastructure import Infrastructure
from pantau_shared.sealing import Sealer
from pantau_shared.settings import PlatformSettings

from .audit import AuditLog
from .auth import KeyVerifier
from .ratelimit import RateLimiter
from .sessions import SessionStore

if TYPE_CHECKING:  # oidc's routes take this module's State
    from .oidc import OidcClient


@dataclass
class State:
    infra: Infrastructure
    publisher: Publisher
    rpc: RpcClient
    keys: KeyVerifier
    sessions: SessionStore
    audit: AuditLog
    limiter: RateLimiter
    platform: PlatformSettings
    # Requests a minute per signed-in user.
    user_rate_limit: int
    # Seals reporters' contacts to intake's public key before a report is published.
    sealer: Sealer
    # The agency's OpenID Connect provider, when one is configured.
    oidc: "OidcClient | None" = None


async def state(request: Request) -> State:
    # Async on purpose: FastAPI runs a plain `def` dependency in a thread pool.
    current: State = request.state.pantau
    return current


class CommandFields(TypedDict):
    principal: str
    command_id: UUID


@dataclass(frozen=True)
class Origin:
    """The command fields a request gives: who sent it, and its id."""

    principal: str
    command_id: UUID

    def fields(self) -> "CommandFields":
        return {"principal": self.principal, "command_id": self.command_id}


async def origin(
    request: Request, idempotency_key: Annotated[str | None, Header(max_length=200)] = None
) -> Origin:
    """The command fields of a request whose route took its principal (`roles.require`) in an
    earlier parameter: FastAPI resolves dependencies in order, and the principal is left on
    `request.state`."""
    principal = getattr(request.state, "principal", None)
    if principal is None:
        raise RuntimeError("a route with OriginDep must take its principal (roles.require) first")
    # A retried request with the same Idempotency-Key is the same command: applied once.
    command_id = (
        stable_id(f"{principal.agency_id}:{request.method}:{request.url.path}", idempotency_key)
        if idempotency_key
        else new_id()
    )
    marked = getattr(request.state, "audit", None)
    if marked is not None:
        # Ties the audit entry to the change the owning service records under this id.
        marked.detail["command_id"] = str(command_id)
    return Origin(principal=principal.name, command_id=command_id)


async def platform_settings(request: Request) -> PlatformSettings:
    current: State = request.state.pantau
    return current.platform


StateDep = Annotated[State, Depends(state)]
SettingsDep = Annotated[PlatformSettings, Depends(platform_settings)]
OriginDep = Annotated[Origin, Depends(origin)]
