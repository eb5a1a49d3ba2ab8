"""Rendering the kustomizations under deploy/kubernetes, with `kubectl kustomize` or in Python.

kubectl is not a Python package, so a fresh machine may not have it. The Python renderer
implements the part of kustomize these manifests use (resources, components, namespace, images,
strategic-merge and JSON 6902 patches, configMapGenerator without name hashes) and refuses any
other field, so a manifest cannot silently use something it does not understand. Where kubectl
is installed the tests render with both and require the same objects, which keeps this renderer
honest.
"""

import copy
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

Object = dict[str, Any]
ObjectId = tuple[str, str, str]  # kind, namespace, name

KNOWN_FIELDS = {
    "apiVersion",
    "kind",
    "resources",
    "components",
    "namespace",
    "images",
    "patches",
    "configMapGenerator",
}
# Kinds without a namespace (only the ones a kustomization here could meet).
CLUSTER_SCOPED = {
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "StorageClass",
}
# Strategic merge patch: list fields merged item by item on a key instead of replaced.
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "ports": "containerPort",
}


class UnsupportedKustomization(ValueError):
    pass


def object_id(obj: Object) -> ObjectId:
    meta = obj.get("metadata", {})
    return obj["kind"], meta.get("namespace", ""), meta["name"]


def by_id(objects: list[Object]) -> dict[ObjectId, Object]:
    indexed: dict[ObjectId, Object] = {}
    for obj in objects:
        key = object_id(obj)
        if key in indexed:
            raise UnsupportedKustomization(f"duplicate object {key}")
        indexed[key] = obj
    return indexed


def kubectl() -> str | None:
    return shutil.which("kubectl")


def render_with_kubectl(directory: Path) -> list[Object]:
    binary = kubectl()
    assert binary is not None
    out = subprocess.run(
        [binary, "kustomize", str(directory)], check=True, capture_output=True, text=True, timeout=60
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def render(directory: Path) -> list[Object]:
    """The objects `kubectl kustomize directory` prints, in no particular order."""
    return _build(directory, [], component=False)


def _load(directory: Path) -> Object:
    data: Object = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unknown = set(data) - KNOWN_FIELDS
    if unknown:
        raise UnsupportedKustomization(f"{directory}: fields this renderer does not implement: {unknown}")
    return data


def _documents(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def _build(directory: Path, accumulated: list[Object], component: bool) -> list[Object]:
    spec = _load(directory)
    expected = "Component" if component else "Kustomization"
    if spec.get("kind", "Kustomization") != expected:
        raise UnsupportedKustomization(f"{directory} is not a {expected}")
    objects = accumulated
    for entry in spec.get("resources", []):
        path = directory / entry
        objects.extend(render(path) if path.is_dir() else _documents(path))
    for entry in spec.get("components", []):
        objects = _build(directory / entry, objects, component=True)
    for generator in spec.get("configMapGenerator", []):
        objects.append(_config_map(directory, generator))
    for patch in spec.get("patches", []):
        _apply_patch(directory, patch, objects)
    if "namespace" in spec:
        for obj in objects:
            if obj["kind"] not in CLUSTER_SCOPED:
                obj.setdefault("metadata", {})["namespace"] = spec["namespace"]
    for image in spec.get("images", []):
        for obj in objects:
            _set_image(obj, image)
    by_id(objects)
    return objects


def _config_map(directory: Path, generator: Object) -> Object:
    options = generator.get("options", {})
    if set(generator) - {"name", "files", "literals", "options"} or not options.get("disableNameSuffixHash"):
        raise UnsupportedKustomization(f"{directory}: configMapGenerator needs disableNameSuffixHash here")
    data: dict[str, str] = {}
    for literal in generator.get("literals", []):
        key, _, value = literal.partition("=")
        data[key] = value
    for name in generator.get("files", []):
        data[Path(name).name] = (directory / name).read_text()
    metadata: Object = {"name": generator["name"]}
    if options.get("labels"):
        metadata["labels"] = dict(options["labels"])
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data}


def _apply_patch(directory: Path, patch: Object, objects: list[Object]) -> None:
    if set(patch) - {"path", "target"}:
        raise UnsupportedKustomization(f"{directory}: patches need `path` (and optionally `target`)")
    documents = _documents(directory / patch["path"])
    if len(documents) == 1 and isinstance(documents[0], list):
        body = documents[0]
        target = patch["target"]
        matched = [obj for obj in objects if _matches(obj, target)]
        if not matched:
            raise UnsupportedKustomization(f"{directory}: no object matches {target}")
        for obj in matched:
            for op in body:
                _json_patch(obj, op)
        return
    for doc in documents:
        name, kind = doc["metadata"]["name"], doc["kind"]
        matched = [obj for obj in objects if obj["kind"] == kind and obj["metadata"]["name"] == name]
        if len(matched) != 1:
            raise UnsupportedKustomization(f"{directory}: patch {kind}/{name} matches {len(matched)} objects")
        merged = _merge(matched[0], doc)
        matched[0].clear()
        matched[0].update(merged)


def _matches(obj: Object, target: Object) -> bool:
    group = obj["apiVersion"].rpartition("/")[0]
    checks = {
        "kind": obj["kind"],
        "name": obj["metadata"]["name"],
        "group": group,
    }
    if set(target) - set(checks):
        raise UnsupportedKustomization(f"patch target fields not implemented: {set(target) - set(checks)}")
    return all(checks[key] == value for key, value in target.items())


def _merge(base: Any, patch: Any, field: str = "") -> Any:
    if isinstance(base, dict) and isinstance(patch, dict):
        merged = copy.deepcopy(base)
        for key, value in patch.items():
            merged[key] = _merge(base[key], value, key) if key in base else copy.deepcopy(value)
        return merged
    if isinstance(base, list) and isinstance(patch, list) and field in MERGE_KEYS:
        key = MERGE_KEYS[field]
        merged_list = copy.deepcopy(base)
        for item in patch:
            found = next((i for i, old in enumerate(merged_list) if old.get(key) == item.get(key)), None)
            if found is None:
                merged_list.append(copy.deepcopy(item))
            else:
                merged_list[found] = _merge(merged_list[found], item)
        return merged_list
    return copy.deepcopy(patch)


def _json_patch(obj: Object, op: Object) -> None:
    parts = [part.replace("~1", "/").replace("~0", "~") for part in op["path"].lstrip("/").split("/")]
    parent: Any = obj
    for part in parts[:-1]:
        parent = parent[int(part)] if isinstance(parent, list) else parent[part]
    last = parts[-1]
    if op["op"] == "replace":
        if isinstance(parent, list):
            parent[int(last)] = op["value"]
        else:
            if last not in parent:
                raise UnsupportedKustomization(f"replace of a missing field {op['path']}")
            parent[last] = op["value"]
    elif op["op"] == "add":
        if isinstance(parent, list):
            parent.insert(len(parent) if last == "-" else int(last), op["value"])
        else:
            parent[last] = op["value"]
    elif op["op"] == "remove":
        del parent[int(last) if isinstance(parent, list) else last]
    else:
        raise UnsupportedKustomization(f"JSON patch op {op['op']} not implemented")


def _set_image(node: Any, image: Object) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("containers", "initContainers") and isinstance(value, list):
                for container in value:
                    container["image"] = _new_image(container["image"], image)
            else:
                _set_image(value, image)
    elif isinstance(node, list):
        for item in node:
            _set_image(item, image)


def _new_image(current: str, image: Object) -> str:
    name, tag = current, ""
    if "@" in current:
        name, _, digest = current.partition("@")
        tag = "@" + digest
    elif ":" in current.rsplit("/", 1)[-1]:
        name, _, version = current.rpartition(":")
        tag = ":" + version
    if name != image["name"]:
        return current
    if "digest" in image:
        tag = "@" + image["digest"]
    elif "newTag" in image:
        tag = ":" + image["newTag"]
    return str(image.get("newName", name)) + tag
