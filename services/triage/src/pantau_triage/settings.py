from pathlib import Path

from pydantic_settings import SettingsConfigDict

from pantau_shared.settings import ServiceSettings


class TriageSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PANTAU_TRIAGE_", extra="ignore")

    health_port: int = 8082
    # Routing rules (TOML); the packaged rules route by category to Bawaslu and Komdigi.
    routing_file: Path | None = None
