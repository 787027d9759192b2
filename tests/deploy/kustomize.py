"""Rendering the kustomizations under deploy/k8s without a cluster.

``kubectl kustomize`` is the reference; where it is installed the tests render
with it. This renderer covers exactly the kustomize features the manifests use
(resources, namespace, images, replicas, strategic-merge patches) so the
manifests are still rendered and validated on a machine without kubectl, and a
test checks both give the same objects wherever kubectl exists.
"""

from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

CLUSTER_SCOPED = {"Namespace", "PersistentVolume", "ClusterRole", "ClusterRoleBinding", "StorageClass"}
SUPPORTED = {"apiVersion", "kind", "resources", "namespace", "images", "replicas", "patches"}

Object = dict[str, Any]


def load_documents(path: Path) -> list[Object]:
    return [document for document in yaml.safe_load_all(path.read_text()) if document]


def render(directory: Path) -> list[Object]:
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unsupported = set(kustomization) - SUPPORTED
    if unsupported:
        raise ValueError(f"{directory}: this renderer does not know {sorted(unsupported)}; use kubectl kustomize")
    objects: list[Object] = []
    for entry in kustomization.get("resources", []):
        path = (directory / entry).resolve()
        objects.extend(render(path) if path.is_dir() else load_documents(path))
    for patch in kustomization.get("patches", []):
        for document in load_documents(directory / patch["path"]):
            target = _find(objects, document["kind"], document["metadata"]["name"])
            _merge(target, document)
    for replica in kustomization.get("replicas", []):
        for kind in ("Deployment", "StatefulSet"):
            for item in objects:
                if item["kind"] == kind and item["metadata"]["name"] == replica["name"]:
                    item["spec"]["replicas"] = replica["count"]
    for image in kustomization.get("images", []):
        for item in objects:
            for container in _containers(item):
                name, _, _tag = container["image"].partition(":")
                if name == image["name"]:
                    container["image"] = f"{image.get('newName', name)}:{image['newTag']}"
    namespace = kustomization.get("namespace")
    if namespace:
        for item in objects:
            if item["kind"] not in CLUSTER_SCOPED:
                item["metadata"]["namespace"] = namespace
    return objects


def render_with_kubectl(directory: Path) -> list[Object] | None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        return None
    result = subprocess.run([kubectl, "kustomize", str(directory)], capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise AssertionError(f"kubectl kustomize {directory} failed:\n{result.stderr}")
    return [document for document in yaml.safe_load_all(result.stdout) if document]


def _find(objects: list[Object], kind: str, name: str) -> Object:
    for item in objects:
        if item["kind"] == kind and item["metadata"]["name"] == name:
            return item
    raise AssertionError(f"patch targets {kind}/{name}, which no resource defines")


def _merge(target: Object, patch: Object) -> None:
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        elif isinstance(value, list) and isinstance(target.get(key), list) and _named(value) and _named(target[key]):
            by_name = {item["name"]: item for item in target[key]}
            for item in value:
                if item["name"] in by_name:
                    _merge(by_name[item["name"]], item)
                else:
                    target[key].append(copy.deepcopy(item))
        else:
            target[key] = copy.deepcopy(value)


def _named(items: list[Any]) -> bool:
    return all(isinstance(item, dict) and "name" in item for item in items)


def _containers(item: Object) -> list[Object]:
    spec = item.get("spec", {})
    if item["kind"] == "CronJob":
        spec = spec.get("jobTemplate", {}).get("spec", {})
    pod = spec.get("template", {}).get("spec", {})
    return [*pod.get("containers", []), *pod.get("initContainers", [])]


def pod_spec(item: Object) -> Object | None:
    spec = item.get("spec", {})
    if item["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    template = spec.get("template")
    return template["spec"] if template else None
