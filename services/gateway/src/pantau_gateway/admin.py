"""An agency admin's API: its staff accounts and its API keys. Every query names the admin's
own agency, so another agency's people are not found (404), never listed."""

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from pantau_shared.contract.fields import LOOSE_EMAIL_PATTERN, Typed

from . import auth, repository, revocation, users
from .deps import StateDep
from .problems import Problem
from .repository import Grant
from .roles import Principal, Role, Scope, require
from .signin import UserOut

router = APIRouter(prefix="/v1")
Admin = Annotated[Principal, require(Role.ADMIN, scope=Scope.PEOPLE_ADMIN)]
Roles = Annotated[list[Role], Field(min_length=1, max_length=len(Role))]


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=3, max_length=320, pattern=LOOSE_EMAIL_PATTERN)
    name: Annotated[Typed, Field(min_length=1, max_length=200)]
    password: users.Password
    roles: Roles
    contacts: bool = Field(default=False, description="May see reporter contacts (UU 27/2022)")


class UserChange(BaseModel):
    """Only the fields given change. Disabling a user, or a new password, ends their sessions."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[Typed, Field(min_length=1, max_length=200)] | None = None
    roles: Roles | None = None
    contacts: bool | None = None
    disabled: bool | None = None
    password: users.Password | None = None


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: Annotated[Typed, Field(max_length=200)] = ""
    roles: Roles
    scopes: list[Scope] | None = Field(
        default=None, description="Only these; all the roles allow when absent"
    )
    contacts: bool = False
    rate_limit: int | None = Field(default=None, ge=1, le=1_000_000, description="Requests a minute")


class KeyOut(BaseModel):
    key_id: str
    label: str
    roles: list[Role]
    scopes: list[Scope] | None
    contacts: bool
    rate_limit: int | None
    created_at: datetime
    revoked_at: datetime | None


class KeyIssued(BaseModel):
    key_id: str
    key: str = Field(description="pk_<id>_<secret>: shown this once, stored only as an HMAC")


@router.get("/users", response_model=list[UserOut])
async def list_users(state: StateDep, caller: Admin) -> list[UserOut]:
    return [UserOut.of(u) for u in await users.listed(state.infra.pool, caller.agency_id)]


@router.post("/users", status_code=201, response_model=UserOut, responses={409: {}, 422: {}})
async def create_user(body: UserIn, state: StateDep, caller: Admin) -> UserOut:
    """A staff account of the admin's agency; the person signs in with the email and password."""
    user = await users.create(
        state.infra.pool,
        agency_id=caller.agency_id,
        email=body.email,
        name=body.name,
        password=body.password,
        roles=[r.value for r in body.roles],
        contacts=body.contacts,
    )
    if user is None:
        raise Problem(409, f"alamat email {body.email} sudah dipakai akun lain")
    return UserOut.of(user)


@router.get("/users/{user_id}", response_model=UserOut, responses={404: {}})
async def get_user(user_id: UUID, state: StateDep, caller: Admin) -> UserOut:
    user = await users.get(state.infra.pool, caller.agency_id, user_id)
    if user is None:
        raise Problem(404, f"pengguna {user_id} tidak ditemukan")
    return UserOut.of(user)


@router.patch("/users/{user_id}", response_model=UserOut, responses={404: {}, 409: {}, 422: {}})
async def change_user(user_id: UUID, body: UserChange, state: StateDep, caller: Admin) -> UserOut:
    if caller.name == f"user:{user_id}" and (
        body.disabled or (body.roles is not None and Role.ADMIN not in body.roles)
    ):
        # The last admin locking themselves out leaves the agency with nobody to undo it.
        raise Problem(
            409, "Anda tidak dapat menonaktifkan diri sendiri atau melepas peran admin Anda sendiri"
        )
    user = await users.update(
        state.infra.pool,
        caller.agency_id,
        user_id,
        name=body.name,
        roles=None if body.roles is None else [r.value for r in body.roles],
        contacts=body.contacts,
        disabled=body.disabled,
        password=body.password,
    )
    if user is None:
        raise Problem(404, f"pengguna {user_id} tidak ditemukan")
    return UserOut.of(user)


@router.delete("/users/{user_id}/sessions", status_code=204, responses={404: {}})
async def end_user_sessions(user_id: UUID, state: StateDep, caller: Admin) -> Response:
    """Sign a user out everywhere (a lost phone, a shared computer) without disabling them."""
    if await users.get(state.infra.pool, caller.agency_id, user_id) is None:
        raise Problem(404, f"pengguna {user_id} tidak ditemukan")
    await state.sessions.revoke_user(user_id)
    return Response(status_code=204)


@router.get("/keys", response_model=list[KeyOut])
async def list_keys(state: StateDep, caller: Admin) -> list[KeyOut]:
    return [
        KeyOut(
            key_id=k.key_id,
            label=k.label,
            roles=[Role(r) for r in k.grant.roles if r in set(Role)],
            scopes=None if k.grant.scopes is None else [Scope(s) for s in k.grant.scopes if s in set(Scope)],
            contacts=k.grant.contacts,
            rate_limit=k.rate_limit,
            created_at=k.created_at,
            revoked_at=k.revoked_at,
        )
        for k in await repository.list_keys(state.infra.pool, caller.agency_id)
    ]


@router.post("/keys", status_code=201, response_model=KeyIssued, responses={422: {}})
async def issue_key(body: KeyIn, state: StateDep, caller: Admin) -> KeyIssued:
    """An API key of the admin's agency for a machine; the whole key is in this answer only."""
    key_id, secret, whole = auth.new_key()
    await repository.insert_key(
        state.infra.pool,
        key_id,
        caller.agency_id,
        state.keys.digest(secret),
        body.label,
        body.rate_limit,
        Grant(
            tuple(r.value for r in body.roles),
            None if body.scopes is None else tuple(s.value for s in body.scopes),
            body.contacts,
        ),
    )
    return KeyIssued(key_id=key_id, key=whole)


@router.delete("/keys/{key_id}", status_code=204, responses={404: {}})
async def revoke_key(key_id: str, state: StateDep, caller: Admin) -> Response:
    """Revoke a key of the admin's agency on every gateway instance at once."""
    if await repository.revoke_key(state.infra.pool, key_id, caller.agency_id) is None:
        raise Problem(404, f"kunci {key_id} tidak ditemukan")
    await revocation.announce(state.infra.nc, state.infra.subjects, key_id, caller.agency_id)
    return Response(status_code=204)
