"""Request dependencies: the lifespan state and the authenticated, rate-limited caller."""

from dataclasses import dataclass
from typing import Annotated, TypedDict
from uuid import UUID

from fastapi import Depends, Header, Request, Security
from fastapi.security import APIKeyHeader

from pantau_shared.bus import Publisher, RpcClient
from pantau_shared.contract import new_id, stable_id
from pantau_shared.infrastructure import Infrastructure
from pantau_shared.settings import PlatformSettings

from .auth import Caller, KeyVerifier
from .problems import Problem
from .ratelimit import RateLimiter


@dataclass
class State:
    infra: Infrastructure
    publisher: Publisher
    rpc: RpcClient
    keys: KeyVerifier
    limiter: RateLimiter
    platform: PlatformSettings


async def state(request: Request) -> State:
    # Async on purpose: FastAPI runs a plain `def` dependency in a thread pool.
    current: State = request.state.pantau
    return current


api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="The agency's API key: pk_<id>_<secret>"
)


async def caller(request: Request, key: Annotated[str | None, Security(api_key_header)]) -> Caller:
    if not key:
        authorization = request.headers.get("authorization", "")
        key = authorization[7:] if authorization.lower().startswith("bearer ") else None
    if not key:
        raise Problem(
            401, "kirim kunci API instansi Anda di header X-API-Key", headers={"WWW-Authenticate": "ApiKey"}
        )
    current: State = request.state.pantau
    # The client's address as uvicorn saw it (X-Forwarded-For only from FORWARDED_ALLOW_IPS).
    address = request.client.host if request.client else "unknown"
    who = None
    blocked = await current.limiter.auth_blocked(address)
    if blocked is None:
        who = await current.keys.verify(key)
        if who is None:
            blocked = await current.limiter.failed_auth(address)
    if blocked is not None:
        raise Problem(
            429,
            f"lebih dari {current.limiter.auth_failure_limit} kunci API salah per menit dari alamat ini;"
            " coba lagi nanti",
            headers={"Retry-After": str(blocked)},
        )
    if who is None:
        raise Problem(
            401, "kunci API tidak dikenal atau sudah dicabut", headers={"WWW-Authenticate": "ApiKey"}
        )
    retry_after = await current.limiter.hit(who.key_id, who.rate_limit)
    if retry_after is not None:
        raise Problem(
            429,
            f"lebih dari {who.rate_limit} permintaan per menit dengan kunci ini; coba lagi nanti",
            headers={"Retry-After": str(retry_after)},
        )
    return who


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
    request: Request,
    caller: Annotated[Caller, Depends(caller)],
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> Origin:
    # A retried request with the same Idempotency-Key is the same command: applied once.
    command_id = (
        stable_id(f"{caller.agency_id}:{request.method}:{request.url.path}", idempotency_key)
        if idempotency_key
        else new_id()
    )
    return Origin(principal=f"key:{caller.key_id}", command_id=command_id)


async def platform_settings(request: Request) -> PlatformSettings:
    current: State = request.state.pantau
    return current.platform


StateDep = Annotated[State, Depends(state)]
SettingsDep = Annotated[PlatformSettings, Depends(platform_settings)]
CallerDep = Annotated[Caller, Depends(caller)]
OriginDep = Annotated[Origin, Depends(origin)]
