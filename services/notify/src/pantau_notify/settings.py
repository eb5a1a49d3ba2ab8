from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from pantau_shared.settings import ServiceSettings


class NotifySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PANTAU_NOTIFY_", extra="ignore")

    health_port: int = 8083
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_timeout_s: float = 10.0
    # Sends in flight at once: a fetched batch of deliveries goes out concurrently, and with 4 a
    # batch of 32 took 8 rounds of four round trips each (the alert backlog at 200 reports/s).
    smtp_connections: int = 16
    mail_from: str = "Pantau <pantau@localhost>"
    # Agencies' names as people read them in messages ({"bawaslu-3375": "Bawaslu Kota
    # Pekalongan"}); an agency missing here is named from its id ("Bawaslu wilayah 33.75").
    agency_names: dict[str, str] = Field(default_factory=dict)
    # Transient send failures tolerated before a delivery is recorded as failed.
    max_attempts: int = 6
    # WhatsApp Business Cloud API (all four set to send WhatsApp; else email only).
    whatsapp_base_url: str | None = None
    whatsapp_phone_number_id: str | None = None
    whatsapp_access_token: SecretStr | None = None
    whatsapp_api_version: str = "v21.0"
    whatsapp_rate_per_s: float = 80.0
    whatsapp_per_recipient_interval_s: float = 6.0
    whatsapp_timeout_s: float = 10.0
    # The approved template for patrol alerts on WhatsApp (body: priority, categories, summary,
    # link; one quick-reply button to acknowledge). Members without WhatsApp get email.
    whatsapp_alert_template: str = "pantau_peringatan_kasus"
    whatsapp_template_language: str = "id"
    # How often unacknowledged team alerts are checked for escalation.
    escalation_sweep_s: float = 10.0
    # A claimed delivery is renewed every half lease while its send runs; a dead sender's claim
    # expires after this long, and the next delivery of the request takes over. Sized to the
    # consumers' 2 s ack wait: a dead instance's request is redelivered about when its lease ends.
    claim_lease_s: float = 2.0
