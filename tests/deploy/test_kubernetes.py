"""deploy/k8s renders (base and the small-facility overlay) and every object passes the Kubernetes schemas."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
from typer.testing import CliRunner

from seqtrack.cli import app as cli
from seqtrack.settings import Settings
from tests.deploy.kustomize import Object, pod_spec, render, render_with_kubectl
from tests.fixtures.processes import REPO

K8S = REPO / "deploy" / "k8s"
KUSTOMIZATIONS = [K8S / "base", K8S / "overlays" / "small-facility"]
KUBERNETES_VERSION = kubernetes_validate.latest_version()


def _key(item: Object) -> tuple[str, str]:
    return item["kind"], item["metadata"]["name"]


def _by_key(objects: list[Object]) -> dict[tuple[str, str], Object]:
    return {_key(item): item for item in objects}


@pytest.fixture(params=KUSTOMIZATIONS, ids=lambda path: path.name)
def rendered(request: pytest.FixtureRequest) -> list[Object]:
    return render(request.param)


def _validate(item: Object) -> None:
    kubernetes_validate.validate(item, KUBERNETES_VERSION, strict=True)


def test_every_rendered_object_is_valid_kubernetes(rendered: list[Object]) -> None:
    assert rendered
    for item in rendered:
        try:
            _validate(item)
        except kubernetes_validate.ValidationError as exc:
            raise AssertionError(
                f"{item['kind']}/{item['metadata']['name']}: {exc.message} at {list(exc.path)}"
            ) from None


@pytest.mark.parametrize("directory", KUSTOMIZATIONS, ids=lambda path: path.name)
def test_kubectl_kustomize_renders_the_same_objects(directory: Path) -> None:
    reference = render_with_kubectl(directory)
    if reference is None:
        pytest.skip("kubectl is not installed; the manifests were rendered by tests/deploy/kustomize.py")
    assert _by_key(reference) == _by_key(render(directory))


def test_the_validator_rejects_a_broken_manifest(rendered: list[Object]) -> None:
    deployment = copy.deepcopy(_by_key(rendered)[("Deployment", "seqtrack-api")])
    deployment["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        _validate(deployment)
    deployment = copy.deepcopy(_by_key(rendered)[("Deployment", "seqtrack-api")])
    deployment["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGet"]["pathh"] = "/health"
    with pytest.raises(kubernetes_validate.ValidationError):
        _validate(deployment)


def test_everything_a_cluster_needs_is_there(rendered: list[Object]) -> None:
    kinds = {_key(item) for item in rendered}
    assert {
        ("Deployment", "seqtrack-api"),
        ("Deployment", "seqtrack-worker"),
        ("Service", "seqtrack-api"),
        ("Ingress", "seqtrack"),
        ("HorizontalPodAutoscaler", "seqtrack-api"),
        ("PodDisruptionBudget", "seqtrack-api"),
        ("ConfigMap", "seqtrack-config"),
        ("Job", "seqtrack-migrate"),
        ("CronJob", "seqtrack-backup"),
    } <= kinds
    hpa = _by_key(rendered)[("HorizontalPodAutoscaler", "seqtrack-api")]
    scaled_on = {metric["type"]: metric for metric in hpa["spec"]["metrics"]}
    assert scaled_on["Resource"]["resource"]["name"] == "cpu"
    assert scaled_on["Pods"]["pods"]["metric"]["name"] == "http_requests_per_second"


def test_api_and_worker_are_probed_limited_and_unprivileged(rendered: list[Object]) -> None:
    for item in rendered:
        spec = pod_spec(item)
        if spec is None:
            continue
        assert spec["securityContext"]["runAsNonRoot"] is True, _key(item)
        for container in spec["containers"]:
            where = f"{_key(item)} {container['name']}"
            assert container["securityContext"]["readOnlyRootFilesystem"] is True, where
            assert container["securityContext"]["allowPrivilegeEscalation"] is False, where
            assert container["securityContext"]["capabilities"]["drop"] == ["ALL"], where
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]), where
            assert {"cpu", "memory"} <= set(container["resources"]["limits"]), where
            if item["kind"] == "Deployment":
                assert container["livenessProbe"]["httpGet"]["path"] == "/health", where
                assert container["readinessProbe"]["httpGet"]["path"] == "/ready", where


def test_secrets_are_referenced_never_written(rendered: list[Object]) -> None:
    assert not [item for item in rendered if item["kind"] == "Secret"]
    config = _by_key(rendered)[("ConfigMap", "seqtrack-config")]["data"]
    for name, value in config.items():
        if any(word in name for word in ("PASSWORD", "SECRET_KEY", "TOKEN")):
            assert name.endswith("_FILE"), f"{name}: a secret's value belongs in the Secret, its path here"
        assert "@" not in value, f"{name} looks like a URL with credentials; put it in the Secret"
    for item in rendered:
        spec = pod_spec(item)
        for container in spec["containers"] if spec else []:
            for variable in container.get("env", []):
                if variable["name"].endswith("_URL") and variable["name"] != "SEQTRACK_EVENT_BUS_URL":
                    assert variable["valueFrom"]["secretKeyRef"]["name"] == "seqtrack-secrets", variable


def _seqtrack_variables(rendered: list[Object]) -> set[str]:
    names = set(_by_key(rendered)[("ConfigMap", "seqtrack-config")]["data"])
    for item in rendered:
        spec = pod_spec(item)
        for container in spec["containers"] if spec else []:
            names |= {variable["name"] for variable in container.get("env", [])}
    return {name for name in names if name.startswith("SEQTRACK_")}


def test_every_setting_the_manifests_set_exists(rendered: list[Object]) -> None:
    known = {f"SEQTRACK_{name.upper()}" for name in Settings.model_fields}
    assert _seqtrack_variables(rendered) - known == set()


def test_every_container_runs_a_real_command(rendered: list[Object]) -> None:
    for item in rendered:
        spec = pod_spec(item)
        for container in spec["containers"] if spec else []:
            assert_real_command(container["command"])


def test_a_command_the_cli_does_not_have_is_caught() -> None:
    with pytest.raises(AssertionError, match="not a seqtrack command"):
        assert_real_command(["seqtrack", "backups"])


def assert_real_command(command: list[Any]) -> None:
    assert command[0] == "seqtrack", command
    result = CliRunner().invoke(cli, [*map(str, command[1:]), "--help"])
    assert result.exit_code == 0, f"{' '.join(command)} is not a seqtrack command:\n{result.output}"
    assert "Usage" in result.output
