from typing import Annotated

from pydantic import AfterValidator, SecretStr
from pydantic_settings import SettingsConfigDict

from pantau_shared.bus.rpc import RetryPolicy
from pantau_shared.sealing import DEV_PUBLIC_KEY, check_public_key
from pantau_shared.settings import DEVELOPMENT, ServiceSettings

DEV_PEPPER = "dev-only-api-key-pepper"


class GatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PANTAU_GATEWAY_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8080
    health_port: int = 8084
    max_body_bytes: int = 64 * 1024
    # POST /v1/reports:batch carries up to 1,000 reports.
    max_bulk_body_bytes: int = 8 * 1024 * 1024
    # Requests per minute per API key unless the key has its own limit.
    default_rate_limit: int = 600
    # How long a verified key is trusted before it is looked up again. Revocation does not wait
    # for it (`revoke-key` tells every instance over NATS); it bounds a missed announcement.
    key_cache_s: float = 30.0
    # Failed authentications a minute from one client address before it gets 429 (brute force).
    auth_failure_limit: int = 20
    # One request to another service, and how long to keep asking when nobody answers in time.
    rpc_timeout_s: float = 2.0
    rpc_deadline_s: float = 5.0
    # Console sessions end this long after signing in, or after this long without a request.
    session_lifetime_s: int = 12 * 3600
    session_idle_s: int = 2 * 3600
    # Signing in through the agency's OpenID Connect provider, when all three are set; the
    # redirect URI to register there is PANTAU_PUBLIC_URL + /v1/sessions/oidc/callback.
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    # Where a browser goes once signed in through OIDC: the console.
    oidc_after_sign_in: str = "/konsol/"
    # Requests per minute per signed-in user (a person clicking, htmx polling).
    user_rate_limit: int = 600
    api_key_pepper: SecretStr = SecretStr(DEV_PEPPER)
    # Intake's public key (base64): reporters' contacts are sealed to it before they are
    # published, so only intake reads them (docs/reporter-contacts.md).
    reporter_public_key: Annotated[str, AfterValidator(check_public_key), DEVELOPMENT] = DEV_PUBLIC_KEY
    # The WhatsApp Business app's secret (signs webhooks) and the verify token given to Meta.
    whatsapp_app_secret: SecretStr | None = None
    whatsapp_verify_token: SecretStr | None = None

    def rpc_retry(self) -> RetryPolicy:
        return RetryPolicy(attempt_timeout_s=self.rpc_timeout_s, deadline_s=self.rpc_deadline_s)
