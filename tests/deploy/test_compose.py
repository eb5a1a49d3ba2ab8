"""docker-compose.yml, the single-host deployment: production mode, secrets as files, health
gates, pinned images, and the same NATS account as Kubernetes."""

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from pantau_gateway.settings import GatewaySettings
from pantau_intake.settings import DEV_BUNDLE_SIGNING_KEY, IntakeSettings
from pantau_shared.bundle_keys import load_signing_key, public_key_from_text
from pantau_shared.sealing import DEV_PRIVATE_KEY, public_key_of

from .manifests import ROOT, SERVICES, nats_accounts, nats_conf, rendered
from .test_manifests import setting_names

COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVERS = ("nats", "postgres", "redis")
HEALTH_PORTS = {"gateway": 8084, "intake": 8081, "triage": 8082, "notify": 8083}


def services() -> dict[str, Any]:
    found: dict[str, Any] = COMPOSE["services"]
    return found


def test_the_services_run_in_production_mode_with_secrets_as_files() -> None:
    for name in SERVICES:
        service = services()[name]
        env = service["environment"]
        assert env["PANTAU_ENVIRONMENT"] == "production"
        assert not any(re.search(r"PASSWORD|PEPPER|SECRET$|TOKEN", key) for key in env), name
        values = " ".join(str(v) for v in env.values())
        assert not re.search(r"//[^/\s]*@", values), "no credentials in URLs here"
        targets = {secret["target"] for secret in service["secrets"]}
        assert {
            "PANTAU_NATS_URL",
            "PANTAU_DATABASE_URL",
            "PANTAU_REDIS_URL",
            "PANTAU_ACK_LINK_SECRET",
        } <= targets
        assert env["PANTAU_SECRETS_DIR"] == "/run/secrets"
        known = setting_names() | {"PANTAU_SECRETS_DIR"}
        assert all(key in known or key.startswith("OTEL_") for key in env), set(env) - known
        assert service["read_only"] is True and service["cap_drop"] == ["ALL"]
    assert "PANTAU_INTAKE_REPORTER_PEPPER" in {s["target"] for s in services()["intake"]["secrets"]}
    assert "PANTAU_GATEWAY_API_KEY_PEPPER" in {s["target"] for s in services()["gateway"]["secrets"]}
    assert "PANTAU_INTAKE_REPORTER_PRIVATE_KEYS" in {s["target"] for s in services()["intake"]["secrets"]}
    assert "PANTAU_GATEWAY_REPORTER_PUBLIC_KEY" in {s["target"] for s in services()["gateway"]["secrets"]}
    intake_secrets = {s["target"] for s in services()["intake"]["secrets"]}
    assert "PANTAU_INTAKE_EVIDENCE_BUNDLE_SIGNING_KEY" in intake_secrets
    for secret in COMPOSE["secrets"].values():
        assert secret["file"].startswith("./deploy/docker/secrets/")
    assert "/deploy/docker/secrets/" in (ROOT / ".gitignore").read_text()


def test_every_service_waits_for_healthy_servers_and_has_its_own_healthcheck() -> None:
    for name in SERVICES:
        service = services()[name]
        assert service["depends_on"] == {server: {"condition": "service_healthy"} for server in SERVERS}
        check = " ".join(service["healthcheck"]["test"])
        assert f"127.0.0.1:{HEALTH_PORTS[name]}/readyz" in check, name
        assert service["build"]["target"] == name
    for server in SERVERS:
        assert services()[server]["healthcheck"]["test"]


def test_images_are_pinned() -> None:
    for name, service in services().items():
        image = service["image"]
        default = re.sub(r"\$\{\w+:-(.*)\}", r"\1", image)
        assert not default.endswith(":latest") and (":" in default.rsplit("/", 1)[-1]), name
    base = COMPOSE["x-build"]["args"]["BASE_IMAGE"]
    assert re.search(r"@sha256:[0-9a-f]{64}\}$", base)
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    assert base.split(":-", 1)[1].rstrip("}") in dockerfile, "the same base as the Dockerfile"


def test_nats_requires_a_password_and_keeps_jetstream_on_a_volume() -> None:
    nats = services()["nats"]
    assert "nats:/data" in nats["volumes"]
    conf = (ROOT / "deploy" / "docker" / "nats.conf").read_text()
    assert "store_dir: /data" in conf and "authorization" not in conf and "no_auth_user" not in conf
    # The same account and user as in Kubernetes, so KEDA's account and the services' URL agree.
    assert nats_accounts(conf) == nats_accounts(nats_conf(rendered("komdigi")))
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" in services()["gateway"]["environment"]
    assert "otel-collector" in services()


def test_the_smoke_script_runs_the_newcomer_flow() -> None:
    script = (Path(ROOT) / "deploy" / "docker" / "smoke.sh").read_text()
    for step in (
        "create-agency",
        "add-key",
        "add-subscription",
        "/v1/reports",
        "/notifications",
        "compose down",
    ):
        assert step in script


def test_make_secrets_writes_a_sealing_key_pair_the_services_accept(tmp_path: Path) -> None:
    script = tmp_path / "make-secrets.sh"
    shutil.copy(ROOT / "deploy" / "docker" / "make-secrets.sh", script)
    subprocess.run(["sh", str(script)], check=True, capture_output=True, timeout=60)
    secrets = tmp_path / "secrets"
    intake = IntakeSettings(_secrets_dir=secrets)
    gateway = GatewaySettings(_secrets_dir=secrets)
    [private] = [key.get_secret_value() for key in intake.reporter_private_keys]
    assert public_key_of(private) == gateway.reporter_public_key
    assert private != DEV_PRIVATE_KEY
    # The evidence bundle signing key: a real Ed25519 key intake accepts, not the development one.
    signing = intake.evidence_bundle_signing_key.get_secret_value()
    assert signing != DEV_BUNDLE_SIGNING_KEY
    public = load_signing_key(signing).public_key().public_bytes_raw()
    assert public_key_from_text((secrets / "evidence-bundle-public-key.pem").read_text()) == public
    # A second run keeps the pair.
    subprocess.run(["sh", str(script)], check=True, capture_output=True, timeout=60)
    assert IntakeSettings(_secrets_dir=secrets).reporter_private_keys == intake.reporter_private_keys
    assert GatewaySettings(_secrets_dir=secrets).reporter_public_key == gateway.reporter_public_key
