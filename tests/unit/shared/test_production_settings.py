"""Production mode refuses development secrets and links that point at this machine."""

import json
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from pantau_gateway.settings import GatewaySettings
from pantau_intake.settings import IntakeSettings
from pantau_notify.settings import NotifySettings
from pantau_shared.bundle_keys import generate_key_pair
from pantau_shared.sealing import DEV_PRIVATE_KEY, new_key_pair
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


PRIVATE, PUBLIC = new_key_pair()


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        (GatewaySettings(), ["PANTAU_GATEWAY_API_KEY_PEPPER", "PANTAU_GATEWAY_REPORTER_PUBLIC_KEY"]),
        (
            IntakeSettings(),
            [
                "PANTAU_INTAKE_REPORTER_PEPPER",
                "PANTAU_INTAKE_REPORTER_PRIVATE_KEYS",
                "PANTAU_INTAKE_EVIDENCE_BUNDLE_SIGNING_KEY",
            ],
        ),
        # Notify's links (case page, acknowledging) all start at PANTAU_PUBLIC_URL, checked above.
        (NotifySettings(), []),
    ],
)
def test_each_service_default_secret_or_local_link_is_refused(settings, expected: list[str]) -> None:
    assert variables(production_errors(GOOD, settings)) == expected


BUNDLE_KEY = SecretStr(generate_key_pair().private_pem.decode())


def test_set_secrets_pass() -> None:
    gateway = GatewaySettings(api_key_pepper=SecretStr("pepper-from-the-vault"), reporter_public_key=PUBLIC)
    intake = IntakeSettings(
        reporter_pepper=SecretStr("another-pepper-from-the-vault"),
        reporter_private_keys=[SecretStr(PRIVATE)],
        evidence_bundle_signing_key=BUNDLE_KEY,
    )
    assert production_errors(GOOD, gateway) == production_errors(GOOD, intake) == []


def test_the_development_sealing_key_is_refused_even_beside_a_real_one() -> None:
    intake = IntakeSettings(
        reporter_pepper=SecretStr("another-pepper-from-the-vault"),
        reporter_private_keys=[SecretStr(PRIVATE), SecretStr(DEV_PRIVATE_KEY)],
        evidence_bundle_signing_key=BUNDLE_KEY,
    )
    assert variables(production_errors(GOOD, intake)) == ["PANTAU_INTAKE_REPORTER_PRIVATE_KEYS"]


def test_sealing_keys_come_from_the_secrets_directory(tmp_path: Path) -> None:
    (tmp_path / "PANTAU_INTAKE_REPORTER_PRIVATE_KEYS").write_text(json.dumps([PRIVATE, DEV_PRIVATE_KEY]))
    (tmp_path / "PANTAU_GATEWAY_REPORTER_PUBLIC_KEY").write_text(PUBLIC + "\n")
    intake = IntakeSettings(_secrets_dir=tmp_path)
    gateway = GatewaySettings(_secrets_dir=tmp_path)
    assert [key.get_secret_value() for key in intake.reporter_private_keys] == [PRIVATE, DEV_PRIVATE_KEY]
    assert gateway.reporter_public_key == PUBLIC


@pytest.mark.parametrize("keys", [[], ["not-a-key"]])
def test_intake_does_not_start_without_a_usable_private_key(keys: list[str]) -> None:
    with pytest.raises(ValidationError):
        IntakeSettings(reporter_private_keys=keys)


def test_a_refused_setting_names_the_rule_and_never_echoes_the_value(monkeypatch) -> None:
    # A key of the wrong length, as an operator's typo would give it, read from the environment.
    wrong = "c2VjcmV0LWJ1dC10b28tc2hvcnQ="
    monkeypatch.setenv("PANTAU_INTAKE_REPORTER_PRIVATE_KEYS", json.dumps([wrong]))
    with pytest.raises(ValidationError) as refused:
        IntakeSettings()
    assert "32 bytes" in str(refused.value) and wrong not in str(refused.value)
    monkeypatch.setenv("PANTAU_ENVIRONMENT", "prod-with-password-s3cr3t")
    with pytest.raises(ValidationError) as platform:
        PlatformSettings()
    assert "environment" in str(platform.value) and "s3cr3t" not in str(platform.value)
