from pantau_shared.settings import ServiceSettings
from pydantic_settings import SettingsConfigDict


class TriageSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PANTAU_TRIAGE_", extra="ignore")

    health_port: int = 8082
