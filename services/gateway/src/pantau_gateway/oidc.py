"""Signing in through the agency's OpenID Connect provider (authorization code flow with PKCE).

The provider proves who the person is; Pantau still decides what they may do: the verified
email must belong to an enabled user the agency's admin created, whose roles apply. The flow's
state, nonce and PKCE verifier wait in Redis for ten minutes under a random state that a
`__Host-` cookie binds to the browser that started it, so a callback from another browser (login
CSRF) or a replay is refused. The ID token is checked with joserfc: signature against the
provider's JWKS, issuer, audience, expiry, nonce, `email_verified`.
"""

import base64
import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

import httpx
from fastapi import APIRouter, Cookie, Query, Request
from fastapi.responses import RedirectResponse
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry

from . import users
from .auditing import mark
from .deps import State, StateDep
from .problems import Problem
from .roles import public
from .sessions import set_cookie
from .settings import GatewaySettings

router = APIRouter(prefix="/v1/sessions/oidc")
FLOW_COOKIE = "__Host-pantau-oidc"
FLOW_SECONDS = 600
CALLBACK = "/v1/sessions/oidc/callback"


@dataclass(frozen=True)
class Provider:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str


class OidcClient:
    """The provider's discovery document and keys, fetched once and kept (keys again when a
    token names a key id they do not have: the provider rotated)."""

    def __init__(self, settings: GatewaySettings, public_url: str) -> None:
        assert settings.oidc_issuer and settings.oidc_client_id and settings.oidc_client_secret
        self.issuer = settings.oidc_issuer.rstrip("/")
        self.client_id = settings.oidc_client_id
        self._secret = settings.oidc_client_secret.get_secret_value()
        self.redirect_uri = public_url.rstrip("/") + CALLBACK
        self.after_sign_in = settings.oidc_after_sign_in
        self._http = httpx.AsyncClient(timeout=10)
        self._provider: Provider | None = None
        self._keys: KeySet | None = None

    async def provider(self) -> Provider:
        if self._provider is None:
            found = (await self._get(f"{self.issuer}/.well-known/openid-configuration")).json()
            if found.get("issuer", "").rstrip("/") != self.issuer:
                raise Problem(503, "penyedia OIDC mengaku penerbit lain")
            self._provider = Provider(
                found["issuer"], found["authorization_endpoint"], found["token_endpoint"], found["jwks_uri"]
            )
        return self._provider

    async def keys(self, refresh: bool = False) -> KeySet:
        if self._keys is None or refresh:
            self._keys = KeySet.import_key_set((await self._get((await self.provider()).jwks_uri)).json())
        return self._keys

    async def exchange(self, code: str, verifier: str) -> str:
        """The ID token for an authorization code (client_secret_basic)."""
        answer = await self._http.post(
            (await self.provider()).token_endpoint,
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": self.redirect_uri,
                "code_verifier": verifier,
            },
            auth=(self.client_id, self._secret),
        )
        if answer.status_code != 200 or "id_token" not in answer.json():
            raise Problem(401, "penyedia OIDC menolak kode masuk ini; silakan masuk lagi")
        token: str = answer.json()["id_token"]
        return token

    async def claims(self, id_token: str, nonce: str) -> dict[str, Any]:
        try:
            try:
                decoded = jwt.decode(id_token, await self.keys(), algorithms=["RS256", "ES256"])
            except JoseError:
                decoded = jwt.decode(id_token, await self.keys(refresh=True), algorithms=["RS256", "ES256"])
            JWTClaimsRegistry(
                iss={"essential": True, "value": (await self.provider()).issuer},
                aud={"essential": True, "value": self.client_id},
                exp={"essential": True},
                nonce={"essential": True, "value": nonce},
                email={"essential": True},
            ).validate(decoded.claims)
        except JoseError as error:
            raise Problem(401, "token identitas dari penyedia OIDC tidak sah") from error
        return dict(decoded.claims)

    async def _get(self, url: str) -> httpx.Response:
        try:
            answer = await self._http.get(url)
            answer.raise_for_status()
        except httpx.HTTPError as error:
            raise Problem(503, "penyedia OIDC tidak dapat dihubungi; coba lagi nanti") from error
        return answer

    async def close(self) -> None:
        await self._http.aclose()


def _client(state: State) -> OidcClient:
    if state.oidc is None:
        raise Problem(404, "masuk dengan OIDC belum dikonfigurasi di gateway ini")
    return state.oidc


def _flow_key(state: State, flow: str) -> str:
    return f"{state.platform.subject_root}:oidc:{hashlib.sha256(flow.encode()).hexdigest()}"


@router.get(
    "",
    status_code=303,
    dependencies=[public("starts signing in at the agency's OIDC provider")],
    responses={404: {}},
)
async def start(state: StateDep) -> RedirectResponse:
    """Redirect to the provider's sign-in page; it comes back to the callback."""
    client = _client(state)
    flow, nonce, verifier = (secrets.token_urlsafe(32) for _ in range(3))
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    await state.infra.redis.set(
        _flow_key(state, flow), json.dumps({"nonce": nonce, "verifier": verifier}), ex=FLOW_SECONDS
    )
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client.client_id,
            "redirect_uri": client.redirect_uri,
            "scope": "openid email profile",
            "state": flow,
            "nonce": nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    redirect = RedirectResponse(
        f"{(await client.provider()).authorization_endpoint}?{query}", status_code=303
    )
    redirect.set_cookie(
        FLOW_COOKIE, flow, max_age=FLOW_SECONDS, path="/", secure=True, httponly=True, samesite="lax"
    )
    return redirect


@router.get(
    "/callback",
    status_code=303,
    dependencies=[
        public("the OIDC provider's redirect: the state, PKCE and the signed ID token are the authority")
    ],
    responses={401: {}, 404: {}},
)
async def callback(
    request: Request,
    state: StateDep,
    code: Annotated[str, Query(max_length=2_000)] = "",
    flow: Annotated[str, Query(alias="state", max_length=200)] = "",
    bound: Annotated[str | None, Cookie(alias=FLOW_COOKIE)] = None,
) -> RedirectResponse:
    """Finish signing in: a session cookie, and on to the console."""
    client = _client(state)
    if not code or not flow or bound is None or not secrets.compare_digest(flow, bound):
        raise Problem(401, "proses masuk ini tidak dimulai di peramban ini; silakan masuk lagi")
    # GETDEL: a state is good for one callback.
    stored = await state.infra.redis.getdel(_flow_key(state, flow))
    if stored is None:
        raise Problem(401, "proses masuk sudah kedaluwarsa atau sudah dipakai; silakan masuk lagi")
    saved = json.loads(stored)
    claims = await client.claims(await client.exchange(code, saved["verifier"]), saved["nonce"])
    if claims.get("email_verified") is not True:
        raise Problem(401, "alamat email Anda belum diverifikasi oleh penyedia OIDC")
    user = await users.find_enabled(state.infra.pool, str(claims["email"]))
    if user is None:
        raise Problem(401, f"tidak ada akun aktif untuk {claims['email']}; minta admin instansi membuatnya")
    mark(request, user.agency_id, f"user:{user.user_id}")
    address = request.client.host if request.client else "unknown"
    token, expires_at = await state.sessions.start(user, address, request.headers.get("user-agent", ""))
    redirect = RedirectResponse(client.after_sign_in, status_code=303)
    set_cookie(redirect, token, expires_at)
    redirect.delete_cookie(FLOW_COOKIE, path="/", secure=True, httponly=True, samesite="lax")
    return redirect
