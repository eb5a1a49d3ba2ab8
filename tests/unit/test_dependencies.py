"""Every package installs what it imports: each third-party module a package's code imports comes
from a distribution its own dependencies pull in (not from the dev group, nor a neighbour)."""

import ast
import re
import sys
import tomllib
from functools import cache
from importlib.metadata import PackageNotFoundError, packages_distributions, requires
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
PACKAGES = [ROOT / "shared", *sorted((ROOT / "services").glob("*/")), ROOT / "deploy" / "local"]


def _name(requirement: str) -> str:
    return re.split(r"[=<>!~\[ ;(]", requirement, maxsplit=1)[0].strip().lower().replace("_", "-")


@cache
def closure(distribution: str) -> frozenset[str]:
    """The distribution and everything it requires, without optional extras."""
    found, todo = {distribution}, [distribution]
    while todo:
        try:
            wanted = requires(todo.pop()) or []
        except PackageNotFoundError:
            continue
        for requirement in wanted:
            if "extra ==" in requirement:
                continue
            name = _name(requirement)
            if name not in found:
                found.add(name)
                todo.append(name)
    return frozenset(found)


def imported_modules(source: Path) -> dict[str, Path]:
    modules: dict[str, Path] = {}
    for path in sorted(source.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                modules.setdefault(name.split(".")[0], path)
    return modules


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.name)
def test_every_third_party_import_is_a_declared_dependency(package: Path) -> None:
    project = tomllib.loads((package / "pyproject.toml").read_text("utf-8"))["project"]
    installed = closure(_name(project["name"]))
    providers = packages_distributions()
    own = {p.name for p in (package / "src").iterdir() if p.is_dir()}
    missing = {
        module: str(path.relative_to(ROOT))
        for module, path in imported_modules(package / "src").items()
        if module not in sys.stdlib_module_names
        and module not in own
        and not {_name(d) for d in providers.get(module, [module])} & installed
    }
    assert missing == {}, f"{project['name']} imports what it does not declare"
