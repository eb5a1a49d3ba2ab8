from datetime import timedelta
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, BaseModel, Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from pantau_shared.bundle_keys import load_signing_key
from pantau_shared.fetching import FetchLimits
from pantau_shared.objectstore import ObjectStoreSettings
from pantau_shared.sealing import DEV_PRIVATE_KEY, check_private_key
from pantau_shared.settings import DEVELOPMENT, ServiceSettings

DEV_PEPPER = "dev-only-reporter-pepper"
# Signs evidence bundles in development only: production refuses it (a SecretStr default).
DEV_BUNDLE_SIGNING_KEY = """-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIPIKw9zyLgIJ0XGf9n4hENQpBgPPFiI7avw/by3iWByZ
-----END PRIVATE KEY-----
"""


def _private_key(key: SecretStr) -> SecretStr:
    check_private_key(key.get_secret_value())
    return key


def _signing_key(key: SecretStr) -> SecretStr:
    load_signing_key(key.get_secret_value())
    return key


class ImapMailbox(BaseModel):
    """An agency's existing report mailbox, read over IMAP."""

    host: str
    port: int = 993
    username: str
    password: SecretStr
    agency_id: str
    security: Literal["ssl", "starttls", "plain"] = "ssl"
    mailbox: str = "INBOX"
    # Where processed mail goes, when the server supports MOVE; else it is only marked seen.
    processed_folder: str | None = None
    interval_s: float = 60.0


class MonitoredAgency(BaseModel):
    """One agency's monitoring: the regions whose registered accounts it watches, and the
    platform credentials it holds (each optional: a platform without one is not collected)."""

    regions: list[str] = Field(default_factory=list)
    youtube_api_key: SecretStr | None = None
    # The key's quota: 10,000 units a day unless Google granted more.
    youtube_daily_units: int = Field(default=10_000, gt=0)
    x_bearer_token: SecretStr | None = None
    # Requests per 15 minutes on GET /2/users/:id/tweets for the token's access tier.
    x_requests_per_15_minutes: int = Field(default=1_500, gt=0)
    # TikTok Research API client (client credentials) and its daily request limit.
    tiktok_client_key: str | None = None
    tiktok_client_secret: SecretStr | None = None
    tiktok_daily_requests: int = Field(default=1_000, gt=0)
    # Graph API: a token that may read public Pages (Page Public Content Access) and, for
    # Instagram, the agency's own Instagram professional account id (business discovery).
    graph_access_token: SecretStr | None = None
    instagram_user_id: str | None = None
    graph_calls_per_hour: int = Field(default=200, gt=0)
    # RSS/Atom feeds of news sites and blogs to watch besides the registry.
    feeds: list[str] = Field(default_factory=list)

    def platforms(self) -> list[str]:
        named = [
            ("youtube", self.youtube_api_key),
            ("x", self.x_bearer_token),
            ("tiktok", self.tiktok_client_secret),
        ]
        return [name for name, credential in named if credential is not None] + (
            ["web"] if self.feeds else []
        )


class MonitoringSettings(BaseModel):
    youtube_base_url: str = "https://www.googleapis.com"
    x_base_url: str = "https://api.x.com"
    tiktok_base_url: str = "https://open.tiktokapis.com"
    graph_base_url: str = "https://graph.facebook.com"
    graph_version: str = "v21.0"
    # The coverage SLO: every active account checked within this long, per calendar stage.
    interval_s: dict[str, float] = Field(
        default_factory=lambda: {
            "before_campaign": 24 * 3600.0,
            "campaign": 6 * 3600.0,
            "quiet": 3600.0,
            "voting_day": 3600.0,
            "after": 24 * 3600.0,
            "none": 24 * 3600.0,
        }
    )
    # Accounts with findings lately are checked this many times as often.
    priority_factor: float = Field(default=3.0, ge=1.0)
    # A first look reaches back this far; later checks read from the cursor.
    lookback_days: float = Field(default=7.0, gt=0)
    # How often the registry's list is read again from triage.
    sync_interval_s: float = Field(default=300.0, gt=0)
    # Accounts leased (and fetched concurrently) at a time, and how long a lease holds.
    batch: int = Field(default=20, ge=1, le=500)
    lease_s: float = Field(default=300.0, gt=0)
    idle_s: float = Field(default=5.0, gt=0)

    def interval(self, period: str, priority: bool = False) -> timedelta:
        seconds = self.interval_s.get(period, self.interval_s.get("none", 24 * 3600.0))
        return timedelta(seconds=seconds / (self.priority_factor if priority else 1.0))


class IntakeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PANTAU_INTAKE_", extra="ignore")

    health_port: int = 8081
    # Keys the pseudonymous reporter id; changing it unlinks every reporter from their history.
    reporter_pepper: SecretStr = SecretStr(DEV_PEPPER)
    # Private keys (base64, JSON list) that open reporters' contacts sealed on the bus; the
    # first is the current one (its public key goes to the gateway), the others are kept while
    # messages sealed to them may still be on a stream (docs/reporter-contacts.md).
    reporter_private_keys: Annotated[
        list[Annotated[SecretStr, AfterValidator(_private_key)]], Field(min_length=1), DEVELOPMENT
    ] = Field(default_factory=lambda: [SecretStr(DEV_PRIVATE_KEY)])
    # Reports a day from one sender before the rest are flagged as a flood (never dropped).
    sender_daily_limit: int = 50
    # Mail forwarded to Pantau: an SMTP receiver, and which address reports to which agency,
    # e.g. PANTAU_INTAKE_EMAIL_RECIPIENTS='{"lapor@bawaslu-pekalongan.go.id": "bawaslu-3375"}'.
    email_smtp_enabled: bool = False
    email_smtp_host: str = "127.0.0.1"
    email_smtp_port: int = 2525
    email_recipients: dict[str, str] = Field(default_factory=dict)
    email_max_message_bytes: int = 25 * 1024 * 1024
    email_max_attachment_bytes: int = 10 * 1024 * 1024
    # Receiving servers whose Authentication-Results header is believed (their authserv-id),
    # e.g. '["mx.bawaslu-pekalongan.go.id"]'; without one, DKIM is verified here over DNS.
    # Receipts go only to senders that pass.
    email_trusted_authserv_ids: list[str] = Field(default_factory=list)
    email_verify_dkim: bool = True
    # WhatsApp media (photos, videos, documents sent as reports) are fetched through the Graph
    # API to hash them: the base URL (https://graph.facebook.com) and the agency's token.
    whatsapp_base_url: str | None = None
    whatsapp_access_token: SecretStr | None = None
    whatsapp_api_version: str = "v21.0"
    # A WhatsApp sender's messages are one report until the sender has been quiet this long
    # (text, then a photo, then a place), and at most `conversation_longest_s` after the first.
    conversation_window_s: float = Field(default=30.0, gt=0)
    conversation_longest_s: float = Field(default=600.0, gt=0)
    # Existing mailboxes read over IMAP (JSON list; passwords best from the secrets directory).
    email_imap_mailboxes: list[ImapMailbox] = Field(default_factory=list)
    # Watching registered accounts (docs/monitoring.md): which agencies this deployment collects
    # for, their regions and platform credentials. Off while no agency has a credential or feed.
    monitoring_agencies: dict[str, MonitoredAgency] = Field(default_factory=dict)
    monitoring: MonitoringSettings = Field(default_factory=lambda: MonitoringSettings())

    # Evidence: where its bytes are kept (JSON, e.g. '{"url": "s3://evidence/pantau",
    # "s3_endpoint_url": "https://s3.example.id"}'), and how reported links are fetched.
    object_store: ObjectStoreSettings = Field(default_factory=ObjectStoreSettings)
    evidence_enabled: bool = True
    fetch_max_bytes: int = Field(default=20 * 1024 * 1024, gt=0)
    fetch_timeout_s: float = Field(default=20.0, gt=0)
    fetch_max_redirects: int = Field(default=5, ge=0)
    # Networks the fetcher may reach although private (the dev stack's and tests' local
    # servers, e.g. '["127.0.0.1/32"]'); refused in production.
    fetch_test_allowlist: list[str] = Field(default_factory=list)
    # Screenshots with headless Chromium (docs/evidence.md says how it is kept off the network);
    # without the binary the screenshot item says so and the rest is kept.
    evidence_screenshots: bool = True
    evidence_browser: str = "/usr/bin/chromium"
    # The RFC 3161 time-stamping authority and the root certificates (PEM, JSON list) its tokens
    # are verified against; unset, items are recorded as not timestamped.
    evidence_tsa_url: str | None = None
    evidence_tsa_timeout_s: float = Field(default=10.0, gt=0)
    evidence_tsa_roots: list[str] = Field(default_factory=list)
    # The Ed25519 key (PEM PKCS#8) that signs case evidence bundles, best from the secrets
    # directory, and the name its public half is published under.
    evidence_bundle_signing_key: Annotated[SecretStr, AfterValidator(_signing_key)] = SecretStr(
        DEV_BUNDLE_SIGNING_KEY
    )
    evidence_bundle_key_id: str = Field(default="pantau-dev", pattern=r"^[A-Za-z0-9._:-]{1,100}$")

    def fetch_limits(self) -> FetchLimits:
        return FetchLimits.with_allowlist(
            self.fetch_test_allowlist,
            max_bytes=self.fetch_max_bytes,
            timeout_s=self.fetch_timeout_s,
            max_redirects=self.fetch_max_redirects,
        )

    @model_validator(mode="after")
    def _pepper_length(self) -> Self:
        if len(self.reporter_pepper.get_secret_value()) < 16:
            raise ValueError("reporter_pepper must be at least 16 characters")
        return self
