"""Every Kubernetes overlay renders, every object is valid against its schema, and the manifests
keep the rules an ops team relies on (resources, probes, non-root, read-only root, drain times,
least-privilege network policies, secrets by reference, names the code really declares)."""

import json
import math
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import referencing
import referencing.jsonschema
import yaml
from prometheus_client.metrics import MetricWrapperBase

from pantau_gateway.settings import GatewaySettings
from pantau_intake.settings import IntakeSettings
from pantau_notify.settings import NotifySettings
from pantau_shared import metrics
from pantau_shared.contract import Subjects
from pantau_shared.settings import PlatformSettings, ServiceSettings
from pantau_triage.settings import TriageSettings

from .kustomize import Object
from .manifests import (
    KUBERNETES,
    OVERLAYS,
    SERVICES,
    WORKERS,
    config,
    named,
    nats_accounts,
    nats_conf,
    of_kind,
    pod_templates,
    rendered,
    subscriptions,
)

SCHEMAS = Path(__file__).parent / "schemas"
# The oldest Kubernetes these manifests support, and the newest the validator knows.
KUBERNETES_VERSIONS = ("1.30.0", kubernetes_validate.latest_version())
CUSTOM_KINDS = {
    ("keda.sh/v1alpha1", "ScaledObject"),
    ("postgresql.cnpg.io/v1", "Cluster"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
    ("monitoring.coreos.com/v1", "PodMonitor"),
}
PROBES = ("startupProbe", "readinessProbe", "livenessProbe")
SERVICE_SETTINGS: dict[str, type[ServiceSettings]] = {
    "gateway": GatewaySettings,
    "intake": IntakeSettings,
    "triage": TriageSettings,
    "notify": NotifySettings,
}
SECRET_WORDS = re.compile(r"PASSWORD|PEPPER|SECRET|TOKEN|CREDENTIAL", re.I)

overlays = pytest.mark.parametrize("overlay", OVERLAYS)


def test_there_are_overlays_for_at_least_two_agencies() -> None:
    assert len(OVERLAYS) >= 2 and "komdigi" in OVERLAYS


def schema_registry() -> referencing.Registry[Any]:
    resources = [
        referencing.Resource.from_contents(
            yaml.safe_load(path.read_text()), referencing.jsonschema.DRAFT202012
        )
        for path in sorted(SCHEMAS.glob("*.yaml"))
    ]
    return referencing.Registry().with_resources((resource.id() or "", resource) for resource in resources)


@pytest.fixture(scope="module")
def registry() -> referencing.Registry[Any]:
    return schema_registry()


def custom_schema(obj: Object) -> dict[str, Any]:
    group, _, version = obj["apiVersion"].rpartition("/")
    loaded: dict[str, Any] = yaml.safe_load((SCHEMAS / f"{group}_{version}_{obj['kind']}.yaml").read_text())
    return loaded


@overlays
def test_every_object_is_valid(overlay: str, registry: referencing.Registry[Any]) -> None:
    objects = rendered(overlay)
    assert objects
    for obj in objects:
        what = f"{obj['kind']}/{obj['metadata']['name']}"
        if (obj["apiVersion"], obj["kind"]) in CUSTOM_KINDS:
            validator = jsonschema.Draft202012Validator(custom_schema(obj), registry=registry)
            errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(obj)]
            assert not errors, f"{what}: {errors}"
            continue
        for version in KUBERNETES_VERSIONS:
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as error:
                pytest.fail(f"{what} on Kubernetes {version}: {list(error.path)}: {error.message}")


def test_the_custom_schemas_refuse_what_the_operators_would() -> None:
    """The schemas written from the operators' docs are strict: a misspelt field fails."""
    objects = rendered("komdigi")
    registry = schema_registry()
    scaled = json.loads(json.dumps(named(objects, "ScaledObject", "pantau-triage")))
    scaled["spec"]["triggers"][0]["metadata"]["consumerName"] = scaled["spec"]["triggers"][0]["metadata"].pop(
        "consumer"
    )
    rule = json.loads(json.dumps(of_kind(objects, "PrometheusRule")[0]))
    rule["spec"]["groups"][0]["rules"][0]["expression"] = rule["spec"]["groups"][0]["rules"][0].pop("expr")
    for broken in (scaled, rule):
        validator = jsonschema.Draft202012Validator(custom_schema(broken), registry=registry)
        assert list(validator.iter_errors(broken)), broken["kind"]


@overlays
def test_every_container_has_resources_probes_and_a_locked_down_context(overlay: str) -> None:
    for workload, template in pod_templates(rendered(overlay)):
        spec = template["spec"]
        pod_security = spec.get("securityContext", {})
        assert pod_security.get("runAsNonRoot") is True, workload["metadata"]["name"]
        assert spec.get("automountServiceAccountToken") is False
        for container in spec["containers"]:
            what = f"{workload['metadata']['name']}/{container['name']}"
            security = {**pod_security, **container.get("securityContext", {})}
            assert isinstance(security.get("runAsUser"), int) and security["runAsUser"] > 0, what
            assert security.get("readOnlyRootFilesystem") is True, what
            assert security.get("allowPrivilegeEscalation") is False, what
            assert security.get("capabilities", {}).get("drop") == ["ALL"], what
            resources = container.get("resources", {})
            assert {"cpu", "memory"} <= set(resources.get("requests", {})), what
            assert "memory" in resources.get("limits", {}), what
            for probe in PROBES:
                assert probe in container, f"{what} has no {probe}"
            image = container["image"]
            pinned = "@sha256:" in image or (
                ":" in image.rsplit("/", 1)[-1]
                and not image.endswith(":latest")
                and container.get("imagePullPolicy") == "IfNotPresent"
            )
            assert pinned, f"{what}: {image} is not pinned"


@overlays
def test_pantau_images_are_the_agencys_and_probes_use_the_health_endpoints(overlay: str) -> None:
    objects = rendered(overlay)
    for service in SERVICES:
        deployment = named(objects, "Deployment", f"pantau-{service}")
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert re.fullmatch(
            rf"[a-z0-9.-]+/[a-z0-9/-]+/pantau-{service}(:[\w.-]+|@sha256:[0-9a-f]{{64}})", container["image"]
        )
        assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        health = next(p["containerPort"] for p in container["ports"] if p["name"] == "health")
        assert all(container[probe]["httpGet"]["port"] == "health" for probe in PROBES)
        assert health == SERVICE_SETTINGS[service].model_fields["health_port"].default


@overlays
def test_grace_periods_cover_the_drain(overlay: str) -> None:
    objects = rendered(overlay)
    settings = config(objects)
    drain = float(settings["PANTAU_DRAIN_TIMEOUT_S"])
    for service in SERVICES:
        spec = named(objects, "Deployment", f"pantau-{service}")["spec"]["template"]["spec"]
        (container,) = spec["containers"]
        command = container["lifecycle"]["preStop"]["exec"]["command"]
        assert command[0] == "sleep"
        needed = float(command[1]) + drain + 5
        assert spec["terminationGracePeriodSeconds"] >= needed, service


@overlays
def test_each_service_has_an_autoscaler_a_disruption_budget_and_its_own_account(overlay: str) -> None:
    objects = rendered(overlay)
    for service in SERVICES:
        name = f"pantau-{service}"
        deployment = named(objects, "Deployment", name)
        assert "replicas" not in deployment["spec"], "the autoscaler owns the replica count"
        scalers = [
            obj
            for obj in objects
            if obj["kind"] in ("ScaledObject", "HorizontalPodAutoscaler")
            and obj["spec"]["scaleTargetRef"]["name"] == name
        ]
        assert len(scalers) == 1, f"{name}: {len(scalers)} autoscalers"
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        budgets = [
            pdb
            for pdb in of_kind(objects, "PodDisruptionBudget")
            if pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
        ]
        assert len(budgets) == 1, name
        account = deployment["spec"]["template"]["spec"]["serviceAccountName"]
        assert named(objects, "ServiceAccount", account)


@overlays
def test_secrets_are_references_never_values(overlay: str) -> None:
    objects = rendered(overlay)
    assert not of_kind(objects, "Secret")
    for _, template in pod_templates(objects):
        for container in template["spec"]["containers"]:
            for variable in container.get("env", []):
                if SECRET_WORDS.search(variable["name"]):
                    assert "value" not in variable, variable["name"]
    for key in config(objects):
        assert not SECRET_WORDS.search(key), key


@overlays
def test_each_service_reads_only_its_own_secrets(overlay: str) -> None:
    objects = rendered(overlay)
    seen: dict[str, set[str]] = {}
    for service in SERVICES:
        spec = named(objects, "Deployment", f"pantau-{service}")["spec"]["template"]["spec"]
        (volume,) = [v for v in spec["volumes"] if v["name"] == "secrets"]
        files = {
            item["path"] for source in volume["projected"]["sources"] for item in source["secret"]["items"]
        }
        assert {
            "PANTAU_DATABASE_URL",
            "PANTAU_NATS_URL",
            "PANTAU_REDIS_URL",
            "PANTAU_ACK_LINK_SECRET",
        } <= files
        seen[service] = files
    assert "PANTAU_INTAKE_REPORTER_PEPPER" in seen["intake"]
    assert "PANTAU_INTAKE_EVIDENCE_BUNDLE_SIGNING_KEY" in seen["intake"]
    assert "PANTAU_GATEWAY_API_KEY_PEPPER" in seen["gateway"]
    # The reporters' pseudonym key stays in intake; the API-key pepper in the gateway.
    assert all("PANTAU_INTAKE_REPORTER_PEPPER" not in seen[s] for s in SERVICES if s != "intake")
    assert all("PANTAU_GATEWAY_API_KEY_PEPPER" not in seen[s] for s in SERVICES if s != "gateway")


@overlays
def test_each_agency_has_its_public_url_and_its_own_namespace(overlay: str) -> None:
    objects = rendered(overlay)
    settings = config(objects)
    public = settings["PANTAU_PUBLIC_URL"]
    assert public.startswith("https://") and "example" not in public
    # Alerts name the agency (the overlay is named by its id), not its id.
    assert json.loads(settings["PANTAU_NOTIFY_AGENCY_NAMES"])[overlay]
    assert settings["PANTAU_ENVIRONMENT"] == "production"
    ingress = named(objects, "Ingress", "pantau")
    assert ingress["spec"]["rules"][0]["host"] == public.removeprefix("https://")
    assert {obj["metadata"].get("namespace") for obj in objects} == {f"pantau-{overlay}"}


def setting_names() -> set[str]:
    """Every variable a Pantau process reads: PANTAU_* and each service's prefix."""
    names = {"PANTAU_" + field.upper() for field in PlatformSettings.model_fields}
    for settings in SERVICE_SETTINGS.values():
        prefix = str(settings.model_config.get("env_prefix", ""))
        names |= {prefix + field.upper() for field in settings.model_fields}
    return names


@overlays
def test_the_configuration_names_only_settings_the_code_reads(overlay: str) -> None:
    known = setting_names()
    for key in config(rendered(overlay)):
        assert key in known or key.startswith("OTEL_"), f"{key} is read by no Pantau process"


def test_agencies_do_not_share_a_public_url_or_a_jetstream_domain() -> None:
    urls = [config(rendered(overlay))["PANTAU_PUBLIC_URL"] for overlay in OVERLAYS]
    domains = [named(rendered(overlay), "ConfigMap", "nats-domain")["data"]["domain"] for overlay in OVERLAYS]
    assert len(set(urls)) == len(urls) and len(set(domains)) == len(domains)


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    return bool(selector.get("matchLabels", {}).items() <= labels.items())


def container_ports(objects: tuple[Object, ...], selector: dict[str, Any]) -> set[int] | None:
    """The ports of the pods a selector picks; None when the pods are made by an operator."""
    ports: set[int] = set()
    found = False
    for _, template in pod_templates(objects):
        if selects(selector, template["metadata"]["labels"]):
            found = True
            ports |= {p["containerPort"] for c in template["spec"]["containers"] for p in c.get("ports", [])}
    if not found and "cnpg.io/cluster" in selector.get("matchLabels", {}):
        named(objects, "Cluster", selector["matchLabels"]["cnpg.io/cluster"])
        return None
    assert found, f"no pod matches {selector}"
    return ports


@overlays
def test_network_policies_deny_by_default_and_name_real_ports(overlay: str) -> None:
    objects = rendered(overlay)
    policies = of_kind(objects, "NetworkPolicy")
    deny = named(objects, "NetworkPolicy", "default-deny")["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    for policy in policies:
        spec = policy["spec"]
        for rule in spec.get("egress", []):
            for peer in rule.get("to", []):
                if "podSelector" in peer and "namespaceSelector" not in peer:
                    ports = container_ports(objects, peer["podSelector"])
                    wanted = {p["port"] for p in rule.get("ports", [])}
                    assert ports is None or wanted <= ports, (
                        f"{policy['metadata']['name']}: {wanted} not in {ports}"
                    )
        if spec["podSelector"] and spec.get("ingress"):
            ports = container_ports(objects, spec["podSelector"])
            for rule in spec["ingress"]:
                wanted = {p["port"] for p in rule.get("ports", [])}
                assert ports is None or wanted <= ports, (
                    f"{policy['metadata']['name']}: {wanted} not in {ports}"
                )
    # Triage and the gateway reach nothing outside the cluster but an external database.
    for service in ("triage", "gateway"):
        labels = named(objects, "Deployment", f"pantau-{service}")["spec"]["template"]["metadata"]["labels"]
        for policy in policies:
            if selects(policy["spec"]["podSelector"], labels) and policy["spec"]["podSelector"]:
                for rule in policy["spec"].get("egress", []):
                    outside = [peer for peer in rule.get("to", []) if "ipBlock" in peer]
                    assert not outside or rule["ports"] == [{"protocol": "TCP", "port": 5432}], policy[
                        "metadata"
                    ]["name"]


@overlays
def test_scaled_objects_name_the_consumers_the_code_declares(overlay: str) -> None:
    objects = rendered(overlay)
    scaled = {obj["spec"]["scaleTargetRef"]["name"]: obj for obj in of_kind(objects, "ScaledObject")}
    if not scaled:
        assert {
            hpa["spec"]["scaleTargetRef"]["name"] for hpa in of_kind(objects, "HorizontalPodAutoscaler")
        } == {f"pantau-{s}" for s in SERVICES}
        return
    subjects = Subjects(config(objects)["PANTAU_SUBJECT_ROOT"])
    accounts = nats_accounts(nats_conf(objects))
    service = named(objects, "Service", "nats")
    monitor = next(p["port"] for p in service["spec"]["ports"] if p["name"] == "monitor")
    namespace = service["metadata"]["namespace"]
    for worker in WORKERS:
        triggers = [
            t for t in scaled[f"pantau-{worker}"]["spec"]["triggers"] if t["type"] == "nats-jetstream"
        ]
        named_in_manifest = {(t["metadata"]["stream"], t["metadata"]["consumer"]) for t in triggers}
        declared = {(subjects.stream(s.stream), s.durable) for s in subscriptions(worker)}
        assert named_in_manifest == declared, worker
        for trigger in triggers:
            meta = trigger["metadata"]
            assert meta["natsServerMonitoringEndpoint"] == f"nats.{namespace}.svc.cluster.local:{monitor}"
            # The services' account, the one with JetStream.
            assert "pantau" in accounts[meta["account"]] and "<jetstream>" in accounts[meta["account"]]


@overlays
def test_the_nats_configuration_is_accepted_by_nats_server(overlay: str, tmp_path: Path) -> None:
    objects = rendered(overlay)
    (tmp_path / "nats.conf").write_text(nats_conf(objects))
    leaf = named(objects, "ConfigMap", "nats-leafnodes")["data"]["leafnodes.conf"]
    (tmp_path / "leafnodes.conf").write_text(leaf)
    binary = Path(sys.executable).parent / "nats-server"
    domain = named(objects, "ConfigMap", "nats-domain")["data"]["domain"]
    # The federation table's instance names (pantau_shared.federation): letters and digits.
    assert re.fullmatch(r"[a-z][a-z0-9]{1,30}", domain), domain
    env = {
        "POD_NAME": "nats-0",
        "NATS_JETSTREAM_DOMAIN": domain,
        "PANTAU_PASSWORD": "p",
        "SYS_PASSWORD": "s",
        # A well-formed user seed (any will do for a configuration check).
        "LEAF_NKEY_SEED": "SUACSSL3UAHUDXKFSNVUZRF5UHPMWZ6BFDTJ7M6USDXIEDNPPQYYYCU3VY",
    }
    result = subprocess.run(
        [str(binary), "-t", "-c", str(tmp_path / "nats.conf")],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr + result.stdout


def test_the_dashboard_and_the_rules_use_the_metrics_pantau_exports() -> None:
    dashboard = json.loads((KUBERNETES / "components" / "monitoring" / "pantau-dashboard.json").read_text())
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    rules = yaml.safe_load((KUBERNETES / "components" / "monitoring" / "rules.yaml").read_text())
    exprs += [rule["expr"] for group in rules["spec"]["groups"] for rule in group["rules"]]
    alerts = {rule.get("alert") for group in rules["spec"]["groups"] for rule in group["rules"]}
    assert {
        "PantauDeadLettersGrowing",
        "PantauOutboxStuck",
        "PantauConsumerLagging",
        "PantauAlertsUnacknowledged",
    } <= alerts
    exported = exported_series()
    for expr in exprs:
        assert expr.count("(") == expr.count(")") and expr.count("{") == expr.count("}"), expr
        used = set(re.findall(r"\b(pantau_\w+)", expr))
        assert used or "up{" in expr, expr
        assert used <= exported, f"{expr}: {used - exported} not exported by pantau_shared.metrics"


def exported_series() -> set[str]:
    """The series names pantau_shared.metrics exports (counters as _total, histograms as
    _bucket/_count/_sum), read from its collectors."""
    names: set[str] = set()
    for value in vars(metrics).values():
        if isinstance(value, MetricWrapperBase):
            for family in value.describe():
                base = family.name
                names |= {
                    "counter": {base + "_total"},
                    "histogram": {base + "_bucket", base + "_count", base + "_sum"},
                }.get(family.type, {base})
    assert "pantau_messages_total" in names
    return names


def replicas_keda_would_choose(lag: int, threshold: int, minimum: int, maximum: int) -> int:
    """The HPA KEDA drives, for an AverageValue external metric: ceil(total / target) replicas,
    within the ScaledObject's bounds."""
    return max(minimum, min(maximum, math.ceil(lag / threshold)))


def test_the_replica_arithmetic() -> None:
    assert replicas_keda_would_choose(0, 200, 2, 20) == 2
    assert replicas_keda_would_choose(1000, 200, 2, 20) == 5
    assert replicas_keda_would_choose(1001, 200, 2, 20) == 6
    assert replicas_keda_would_choose(10**6, 200, 2, 20) == 20
