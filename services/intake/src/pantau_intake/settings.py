from typing import Self

from pydantic import SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from pantau_shared.settings import PlatformSettings, ServiceSettings

DEV_PEPPER = "dev-only-reporter-pepper"


class IntakeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PANTAU_INTAKE_", extra="ignore")

    health_port: int = 8081
    # Keys the pseudonymous reporter id; changing it unlinks every reporter from their history.
    reporter_pepper: SecretStr = SecretStr(DEV_PEPPER)
    # Reports a day from one sender before the rest are flagged as a flood (never dropped).
    sender_daily_limit: int = 50

    def check_for(self, platform: PlatformSettings) -> Self:
        if platform.environment == "production" and \
                self.reporter_pepper.get_secret_value() == DEV_PEPPER:
            raise ValueError("PANTAU_INTAKE_REPORTER_PEPPER must be set in production")
        return self

    @model_validator(mode="after")
    def _pepper_length(self) -> Self:
        if len(self.reporter_pepper.get_secret_value()) < 16:
            raise ValueError("reporter_pepper must be at least 16 characters")
        return self
