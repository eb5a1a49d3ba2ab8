"""Production mode refuses development secrets and links that point at this machine."""

import pytest
from pydantic import SecretStr

from pantau_gateway.settings import GatewaySettings
from pantau_intake.settings import IntakeSettings
from pantau_notify.settings import NotifySettings
from pantau_shared.settings import PlatformSettings, production_errors

GOOD = PlatformSettings(
    environment="production",
    public_url="https://pantau.bawaslu.go.id",
    ack_link_secret=SecretStr("a-real-secret-from-the-vault"),
)


def variables(errors: list[str]) -> list[str]:
    return [error.split()[0] for error in errors]


def test_a_configured_platform_passes() -> None:
    assert production_errors(GOOD) == []


def test_the_default_public_url_and_ack_secret_are_refused() -> None:
    assert variables(production_errors(PlatformSettings(environment="production"))) == [
        "PANTAU_ACK_LINK_SECRET",
        "PANTAU_PUBLIC_URL",
    ]


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080", "http://localhost:8080", "http://[::1]/", "https://pantau.localhost", ""]
)
def test_a_public_url_on_this_machine_is_refused(url: str) -> None:
    assert variables(production_errors(GOOD.model_copy(update={"public_url": url}))) == ["PANTAU_PUBLIC_URL"]


@pytest.mark.parametrize(
    ("settings", "variable"),
    [
        (GatewaySettings(), "PANTAU_GATEWAY_API_KEY_PEPPER"),
        (IntakeSettings(), "PANTAU_INTAKE_REPORTER_PEPPER"),
        # Notify's links (case page, acknowledging) all start at PANTAU_PUBLIC_URL, checked above.
        (NotifySettings(), None),
    ],
)
def test_each_service_default_secret_or_local_link_is_refused(settings, variable: str | None) -> None:
    assert variables(production_errors(GOOD, settings)) == ([variable] if variable else [])


def test_set_secrets_pass() -> None:
    gateway = GatewaySettings(api_key_pepper=SecretStr("pepper-from-the-vault"))
    intake = IntakeSettings(reporter_pepper=SecretStr("another-pepper-from-the-vault"))
    assert production_errors(GOOD, gateway) == production_errors(GOOD, intake) == []
