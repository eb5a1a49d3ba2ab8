"""The rendered Kubernetes overlays and the code's own declarations, for the deploy tests."""

import inspect
import re
from collections.abc import Iterator
from functools import cache
from importlib import import_module
from pathlib import Path
from typing import Any, cast

from pantau_shared.bus import Subscription

from .kustomize import Object, by_id, kubectl, render, render_with_kubectl

ROOT = Path(__file__).resolve().parents[2]
KUBERNETES = ROOT / "deploy" / "kubernetes"
OVERLAYS = sorted(path.name for path in (KUBERNETES / "overlays").iterdir() if path.is_dir())
SERVICES = ("gateway", "intake", "triage", "notify")
WORKERS = ("intake", "triage", "notify")


@cache
def rendered(overlay: str) -> tuple[Object, ...]:
    """The overlay's objects: from kubectl where it is installed (and then the Python renderer
    must agree), from the Python renderer otherwise."""
    directory = KUBERNETES / "overlays" / overlay
    ours = render(directory)
    if kubectl() is not None:
        theirs = render_with_kubectl(directory)
        assert by_id(ours) == by_id(theirs), f"the Python renderer disagrees with kubectl on {overlay}"
        return tuple(theirs)
    return tuple(ours)


def of_kind(objects: tuple[Object, ...], kind: str) -> list[Object]:
    return [obj for obj in objects if obj["kind"] == kind]


def named(objects: tuple[Object, ...], kind: str, name: str) -> Object:
    found = [obj for obj in of_kind(objects, kind) if obj["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def pod_templates(objects: tuple[Object, ...]) -> Iterator[tuple[Object, Object]]:
    """(workload, pod spec) of every Deployment and StatefulSet."""
    for obj in objects:
        if obj["kind"] in ("Deployment", "StatefulSet"):
            yield obj, obj["spec"]["template"]


def config(objects: tuple[Object, ...]) -> dict[str, str]:
    return cast(dict[str, str], named(objects, "ConfigMap", "pantau")["data"])


class _Anything:
    """Stands in for a handler's collaborators: any attribute, any call."""

    def __getattr__(self, name: str) -> "_Anything":
        return _Anything()

    def __call__(self, *args: object, **kwargs: object) -> "_Anything":
        return _Anything()


def subscriptions(service: str) -> list[Subscription]:
    """The durable consumers a service declares in its handlers.py, read from the code: the
    table is built on an instance made without its dependencies, whose missing collaborators
    are stand-ins (only the consumers' names and streams are read, never the handlers)."""
    module = import_module(f"pantau_{service}.handlers")
    tables = [
        cls
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if cls.__module__ == module.__name__ and callable(getattr(cls, "subscriptions", None))
    ]
    assert len(tables) == 1, f"pantau_{service}.handlers: {tables}"
    stand_in = type("StandIn", (tables[0],), {"__getattr__": lambda self, name: _Anything()})
    handlers: Any = object.__new__(stand_in)
    declared = handlers.subscriptions()
    assert declared and all(isinstance(s, Subscription) for s in declared)
    return cast(list[Subscription], declared)


def nats_accounts(nats_conf: str) -> dict[str, list[str]]:
    """Account name -> its users, from the accounts block of a nats.conf."""
    block = re.search(r"^accounts \{\n(.*?)^\}", nats_conf, re.M | re.S)
    assert block, "no accounts block"
    accounts: dict[str, list[str]] = {}
    for name, body in re.findall(r"^  (\w+) \{\n(.*?)^  \}", block.group(1), re.M | re.S):
        accounts[name] = re.findall(r"user: (\w+)", body)
        if "jetstream: enabled" in body:
            accounts[name].append("<jetstream>")
    return accounts


def nats_conf(objects: tuple[Object, ...]) -> str:
    text = named(objects, "ConfigMap", "nats-config")["data"]["nats.conf"]
    assert isinstance(text, str)
    return text
