"""The rendered Kubernetes overlays and the code's own declarations, for the deploy tests."""

import inspect
import pkgutil
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
    """The durable consumers a service declares, read from the code: every table in its package
    (handlers.py, and beside it evidence, observed posts, takedowns...) is built on an instance
    made without its dependencies, whose missing collaborators are stand-ins (only the
    consumers' names and streams are read, never the handlers). Tables that only combine others
    give no list of their own and are skipped. Federation's consumers exist only where an
    instance federates, which no overlay does yet, so they are left out."""
    package = import_module(f"pantau_{service}")
    declared: dict[str, Subscription] = {}
    for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
        if ".federation" in info.name or info.name.endswith("__main__"):
            continue
        module = import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__ or not any(
                callable(getattr(cls, m, None)) for m in ("subscriptions", "subscription")
            ):
                continue
            stand_in = type("StandIn", (cls,), {"__getattr__": lambda self, name: _Anything()})
            table: Any = object.__new__(stand_in)
            # A table lists its consumers; a single consumer beside one says `subscription`.
            for method in ("subscriptions", "subscription"):
                if not callable(getattr(cls, method, None)):
                    continue
                try:
                    listed = getattr(table, method)()
                except TypeError:  # a table of tables: adds stand-ins together
                    continue
                listed = [listed] if isinstance(listed, Subscription) else listed
                if isinstance(listed, list) and all(isinstance(s, Subscription) for s in listed):
                    declared.update({s.durable: s for s in cast(list[Subscription], listed)})
    assert declared, service
    return sorted(declared.values(), key=lambda s: s.durable)


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
