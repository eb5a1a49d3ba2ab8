from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from pantau_shared.settings import ServiceSettings


class TriageSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PANTAU_TRIAGE_", extra="ignore")

    health_port: int = 8082
    # Routing rules (TOML); the packaged rules route by category to Bawaslu and Komdigi.
    routing_file: Path | None = None
    # Election calendars (TOML); the packaged Pemilu 2024 and Pilkada 2024 ones when empty.
    calendar_files: tuple[Path, ...] = ()
    # Federation (TOML: which agency runs on which instance) and which instance this is; without
    # them this instance exchanges nothing with others.
    federation_file: Path | None = None
    federation_instance: str | None = None
    # Observed posts of watched accounts are kept this long (whole days dropped after it).
    observed_retention_days: int = Field(default=400, ge=1)
