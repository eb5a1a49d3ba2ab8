"""Signing in to the console and out again: `POST /v1/sessions` sets the session cookie.

The console's own sign-in form calls `sign_in` too, so both paths share the brute-force limit.
"""

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Request, Response, Security
from pydantic import BaseModel, ConfigDict, Field

from pantau_shared.contract.fields import Typed

from . import users
from .auditing import mark
from .deps import State, StateDep
from .problems import Problem
from .roles import ALL_ROLES, Principal, Role, public, require, session_cookie
from .sessions import clear_cookie, csrf_token, set_cookie

router = APIRouter(prefix="/v1")
# Failed sign-ins are counted apart from wrong API keys (see RateLimiter.failed_auth).
SIGN_IN = "signinfail"


class UserOut(BaseModel):
    user_id: UUID
    agency_id: str
    email: str
    name: str
    roles: list[Role]
    contacts: bool = Field(description="May see reporter contacts")
    created_at: datetime
    disabled_at: datetime | None

    @classmethod
    def of(cls, user: users.User) -> "UserOut":
        return cls(
            user_id=user.user_id,
            agency_id=user.agency_id,
            email=user.email,
            name=user.name,
            roles=[Role(r) for r in user.roles if r in Role.__members__.values()],
            contacts=user.contacts,
            created_at=user.created_at,
            disabled_at=user.disabled_at,
        )


class Credentials(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Annotated[Typed, Field(min_length=3, max_length=320)]
    password: str = Field(min_length=1, max_length=1_000)


class SessionOut(BaseModel):
    user: UserOut
    csrf_token: str = Field(
        description="Echo it in X-CSRF-Token (or a csrf_token form field) on every change"
    )
    expires_at: datetime


async def sign_in(
    state: State, request: Request, response: Response, email: str, password: str
) -> SessionOut:
    """Checks the password (limited per client address, as API keys are), starts a session and
    sets its cookie on `response`."""
    address = request.client.host if request.client else "unknown"
    blocked = await state.limiter.auth_blocked(address, SIGN_IN)
    user = None if blocked is not None else await users.authenticate(state.infra.pool, email, password)
    if user is None and blocked is None:
        blocked = await state.limiter.failed_auth(address, SIGN_IN)
    if blocked is not None:
        raise Problem(
            429,
            "terlalu banyak percobaan masuk yang gagal dari alamat ini; coba lagi nanti",
            headers={"Retry-After": str(blocked)},
        )
    if user is None:
        raise Problem(401, "alamat email atau kata sandi salah, atau akun dinonaktifkan")
    mark(request, user.agency_id, f"user:{user.user_id}")
    token, expires_at = await state.sessions.start(user, address, request.headers.get("user-agent", ""))
    set_cookie(response, token, expires_at)
    return SessionOut(user=UserOut.of(user), csrf_token=csrf_token(token), expires_at=expires_at)


@router.post(
    "/sessions",
    status_code=201,
    response_model=SessionOut,
    responses={401: {}, 429: {}},
    dependencies=[public("signing in: the password is the authority")],
)
async def create_session(
    credentials: Credentials, request: Request, response: Response, state: StateDep
) -> SessionOut:
    """Sign in to the console: sets a Secure, HttpOnly, SameSite=Lax session cookie."""
    return await sign_in(state, request, response, credentials.email, credentials.password)


@router.get("/sessions/current", response_model=SessionOut, responses={401: {}})
async def current_session(
    state: StateDep, caller: Annotated[Principal, require(*ALL_ROLES, scope=None)]
) -> SessionOut:
    """Who is signed in, and the CSRF token the console's forms must carry."""
    user = await _session_user(state, caller)
    assert caller.csrf_token is not None and caller.expires_at is not None  # a session's principal
    return SessionOut(user=UserOut.of(user), csrf_token=caller.csrf_token, expires_at=caller.expires_at)


@router.delete("/sessions/current", status_code=204, responses={401: {}})
async def end_session(
    response: Response,
    state: StateDep,
    caller: Annotated[Principal, require(*ALL_ROLES, scope=None)],
    token: Annotated[str | None, Security(session_cookie)] = None,
) -> None:
    """Sign out: the session is revoked on every gateway instance at once."""
    await _session_user(state, caller)
    if token:
        await state.sessions.revoke(token)
    clear_cookie(response)


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current: str = Field(min_length=1, max_length=1_000)
    new: users.Password


@router.put("/sessions/current/password", response_model=SessionOut, responses={401: {}, 403: {}, 422: {}})
async def change_password(
    body: PasswordChange,
    request: Request,
    response: Response,
    state: StateDep,
    caller: Annotated[Principal, require(*ALL_ROLES, scope=None)],
) -> SessionOut:
    """A new password for the signed-in user: every session of theirs ends, elsewhere too, and
    this one is replaced by a new one (a new cookie and CSRF token)."""
    user = await _session_user(state, caller)
    if await users.authenticate(state.infra.pool, user.email, body.current) is None:
        await state.limiter.failed_auth(caller.address, SIGN_IN)
        raise Problem(403, "kata sandi saat ini salah")
    changed = await users.update(state.infra.pool, caller.agency_id, user.user_id, password=body.new)
    assert changed is not None
    token, expires_at = await state.sessions.start(
        changed, caller.address, request.headers.get("user-agent", "")
    )
    set_cookie(response, token, expires_at)
    return SessionOut(user=UserOut.of(changed), csrf_token=csrf_token(token), expires_at=expires_at)


async def _session_user(state: State, caller: Principal) -> users.User:
    user = await users.get(state.infra.pool, caller.agency_id, UUID(caller.id))
    if user is None:
        raise Problem(401, "sesi Anda sudah berakhir; silakan masuk lagi")
    return user
