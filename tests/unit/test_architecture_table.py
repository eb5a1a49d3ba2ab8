"""The README's architecture table says what the code does: per service, the events it consumes
(with stream and durable), the events it builds, and the request/reply methods it answers."""

import ast
import re
from pathlib import Path

import pytest

from pantau_shared import contract
from pantau_shared.contract import EVENT_TYPES, rpc
from pantau_shared.contract.rpc import METHODS, MethodKind

ROOT = Path(__file__).parents[2]
SERVICES = ("gateway", "intake", "triage", "notify")
EVENT_CLASSES = {model.__name__: model.TYPE for model in EVENT_TYPES.values()}
EVENT = re.compile(r"`([a-z_]+(?:\.[a-z_]+)+\.v\d+)`")
SOURCE = re.compile(r"\(`([A-Z_]+)`, `([a-z0-9-]+)`\)")


def table() -> dict[str, list[str]]:
    readme = (ROOT / "README.md").read_text("utf-8")
    rows = {}
    for line in readme[readme.index("| Process | Consumes") :].splitlines()[2:]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        rows[re.findall(r"`(\w+)`", cells[0])[0]] = cells
    return rows


def code(service: str) -> tuple[set[tuple[str, str, str]], set[str], list[str]]:
    """(stream, durable, event type) consumed; event types built; methods answered."""
    consumed, built, answered = set(), set(), []
    for path in (ROOT / "services" / service / "src").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr == "model_validate":
                func = func.value
            name = func.id if isinstance(func, ast.Name) else None
            if name == "Subscription":
                given = {k.arg: k.value for k in node.keywords}
                stream, durable = ast.literal_eval(given["stream"]), ast.literal_eval(given["durable"])
                events = given["events"]
                assert isinstance(events, ast.Tuple)
                for event in events.elts:
                    assert isinstance(event, ast.Name)
                    consumed.add((stream, durable, EVENT_CLASSES[event.id]))
            elif name in EVENT_CLASSES:
                built.add(EVENT_CLASSES[name])
            elif name == "Answer":
                constant = node.args[0]
                assert isinstance(constant, ast.Name)
                # The federation's methods are the contract's too (`contract/federation.py`).
                answered.append((getattr(rpc, constant.id, None) or getattr(contract, constant.id)).name)
    return consumed, built, answered


@pytest.mark.parametrize("service", SERVICES)
def test_the_readme_table_names_what_each_service_consumes_produces_and_answers(service: str) -> None:
    _, consumes, produces, _, answers = table()[service]
    consumed, built, answered = code(service)
    listed = set()
    for group in consumes.split(";"):
        for stream, durable in SOURCE.findall(group):
            listed |= {(stream, durable, event) for event in EVENT.findall(group)}
    assert listed == consumed
    assert set(EVENT.findall(produces)) == built
    queries, _, commands = answers.partition(";")
    kinds = {MethodKind.QUERY: re.findall(r"`([a-z_.]+)`", queries)}
    kinds[MethodKind.COMMAND] = re.findall(r"`([a-z_.]+)`", commands)
    for kind, names in kinds.items():
        assert sorted(names) == sorted(m for m in answered if METHODS[m].kind is kind)


def test_every_method_is_answered_by_the_service_the_contract_names() -> None:
    answered = {method: service for service in SERVICES for method in code(service)[2]}
    assert answered == {name: method.service for name, method in METHODS.items()}
