from datetime import timedelta
from typing import Literal, Self

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from pantau_shared.fetching import FetchLimits
from pantau_shared.objectstore import ObjectStoreSettings
from pantau_shared.settings import ServiceSettings

DEV_PEPPER = "dev-only-reporter-pepper"


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


class IntakeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PANTAU_INTAKE_", extra="ignore")

    health_port: int = 8081
    # Keys the pseudonymous reporter id; changing it unlinks every reporter from their history.
    reporter_pepper: SecretStr = SecretStr(DEV_PEPPER)
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
    # Watching registered accounts: how often each active account must be checked (the coverage
    # SLO) in each election period, and the period now (set by the operator as the calendar moves).
    monitoring_period: Literal["campaign", "quiet_period", "voting_day"] = "campaign"
    monitoring_interval_s: dict[str, float] = Field(
        default_factory=lambda: {"campaign": 6 * 3600.0, "quiet_period": 3600.0, "voting_day": 3600.0}
    )

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

    def fetch_limits(self) -> FetchLimits:
        return FetchLimits.with_allowlist(
            self.fetch_test_allowlist,
            max_bytes=self.fetch_max_bytes,
            timeout_s=self.fetch_timeout_s,
            max_redirects=self.fetch_max_redirects,
        )

    def monitoring_interval(self) -> timedelta:
        return timedelta(seconds=self.monitoring_interval_s[self.monitoring_period])

    @model_validator(mode="after")
    def _pepper_length(self) -> Self:
        if len(self.reporter_pepper.get_secret_value()) < 16:
            raise ValueError("reporter_pepper must be at least 16 characters")
        if self.monitoring_period not in self.monitoring_interval_s:
            raise ValueError(f"monitoring_interval_s names no interval for {self.monitoring_period}")
        return self
