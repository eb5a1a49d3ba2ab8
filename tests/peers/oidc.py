"""An OpenID Connect provider for tests, speaking the documented protocol over real HTTP:
discovery, the authorization endpoint (the person set on `person` is signed in at once), the
token endpoint (client_secret_basic, PKCE S256 checked, codes good once) and the JWKS. ID
tokens are RS256 JWTs signed with joserfc; `rogue` signs them with a key not in the JWKS.
"""

import base64
import hashlib
import secrets
import threading
import time
from typing import Any, Self
from urllib.parse import urlencode

import uvicorn
from fastapi import FastAPI, Form, Header, Query
from fastapi.responses import JSONResponse, RedirectResponse
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from pantau_devstack.servers import free_port

CLIENT_ID, CLIENT_SECRET = "pantau-uji", "rahasia-klien-uji"


class OidcProvider:
    def __init__(self) -> None:
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.person: dict[str, Any] = {}
        self.rogue = False
        self._key = RSAKey.generate_key(2048, parameters={"kid": "kunci-1"})
        self._other = RSAKey.generate_key(2048, parameters={"kid": "kunci-1"})
        self._codes: dict[str, dict[str, Any]] = {}
        self._server = uvicorn.Server(
            uvicorn.Config(self._app(), host="127.0.0.1", port=self.port, log_level="warning")
        )
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            assert time.monotonic() < deadline, "the OIDC provider did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *_: object) -> None:
        self._server.should_exit = True
        self._thread.join(30)

    def _app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/.well-known/openid-configuration")
        async def discovery() -> dict[str, Any]:
            return {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": f"{self.issuer}/jwks",
                "response_types_supported": ["code"],
                "code_challenge_methods_supported": ["S256"],
                "id_token_signing_alg_values_supported": ["RS256"],
            }

        @app.get("/jwks")
        async def jwks() -> dict[str, Any]:
            return KeySet([self._key]).as_dict(private=False)

        @app.get("/authorize")
        async def authorize(
            client_id: str,
            redirect_uri: str,
            state: str,
            nonce: str,
            code_challenge: str,
            response_type: str = Query(),
            code_challenge_method: str = Query(),
        ) -> RedirectResponse:
            assert (client_id, response_type, code_challenge_method) == (CLIENT_ID, "code", "S256")
            code = secrets.token_urlsafe(16)
            self._codes[code] = {
                "redirect_uri": redirect_uri,
                "nonce": nonce,
                "challenge": code_challenge,
                "person": dict(self.person),
            }
            return RedirectResponse(
                f"{redirect_uri}?{urlencode({'code': code, 'state': state})}", status_code=302
            )

        @app.post("/token", response_model=None)
        async def token(
            grant_type: str = Form(),
            code: str = Form(),
            redirect_uri: str = Form(),
            code_verifier: str = Form(),
            authorization: str = Header(),
        ) -> dict[str, Any] | JSONResponse:
            expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
            granted = self._codes.pop(code, None)
            verifier = base64.urlsafe_b64encode(hashlib.sha256(code_verifier.encode()).digest()).rstrip(b"=")
            if (
                authorization != expected
                or grant_type != "authorization_code"
                or granted is None
                or granted["redirect_uri"] != redirect_uri
                or verifier.decode() != granted["challenge"]
            ):
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            now = int(time.time())
            claims = {
                "iss": self.issuer,
                "aud": CLIENT_ID,
                "sub": granted["person"].get("email", "tanpa-email"),
                "iat": now,
                "exp": now + 300,
                "nonce": granted["nonce"],
                **granted["person"],
            }
            key = self._other if self.rogue else self._key
            return {
                "id_token": jwt.encode({"alg": "RS256", "kid": "kunci-1"}, claims, key),
                "token_type": "Bearer",
            }

        return app
