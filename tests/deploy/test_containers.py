"""The Dockerfile and compose file, checked by what runs here (no Docker engine): settings and commands are real."""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from seqtrack.settings import Settings
from tests.deploy.test_kubernetes import assert_real_command
from tests.fixtures.processes import REPO

DEPLOY = REPO / "deploy"
KNOWN_SETTINGS = {f"SEQTRACK_{name.upper()}" for name in Settings.model_fields}


def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return document


def _environment(service: dict[str, Any]) -> dict[str, str]:
    environment = service.get("environment", {})
    if isinstance(environment, list):
        return dict(item.split("=", 1) for item in environment)
    return {str(key): str(value) for key, value in environment.items()}


def test_every_seqtrack_variable_compose_sets_is_a_setting() -> None:
    services = compose()["services"]
    names = {name for service in services.values() for name in _environment(service) if name.startswith("SEQTRACK_")}
    assert "SEQTRACK_DATABASE_URL" in names
    assert names - KNOWN_SETTINGS == set()


def test_compose_runs_real_commands_with_prometheus_rules_and_a_provisioned_grafana() -> None:
    services = compose()["services"]
    for name in ("migrate", "api", "worker"):
        assert_real_command(services[name]["command"])
    prometheus_mounts = " ".join(services["prometheus"]["volumes"])
    assert "./prometheus/rules:/etc/prometheus/rules" in prometheus_mounts
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    assert "/etc/prometheus/rules/*.yml" in config["rule_files"]
    assert {job["job_name"] for job in config["scrape_configs"]} >= {"seqtrack-api", "seqtrack-worker"}
    for mount in services["grafana"]["volumes"]:
        source = mount.split(":")[0]
        assert (DEPLOY / source).exists(), mount
    provider = yaml.safe_load((DEPLOY / "grafana" / "provisioning" / "dashboards" / "seqtrack.yml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
    datasource = yaml.safe_load((DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text())
    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / "seqtrack.json").read_text())
    uids = {target["datasource"]["uid"] for panel in dashboard["panels"] for target in panel.get("targets", [])}
    assert uids == {datasource["datasources"][0]["uid"]}


def test_the_image_is_multi_stage_unprivileged_health_checked_and_runs_a_real_command() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert len(re.findall(r"^FROM ", dockerfile, re.MULTILINE)) >= 2
    user = re.findall(r"^USER (\S+)", dockerfile, re.MULTILINE)
    assert user
    assert user[-1] not in {"root", "0"}
    assert re.search(r"^HEALTHCHECK .*?/health", dockerfile, re.MULTILINE)
    command = re.search(r"^CMD (\[.*\])$", dockerfile, re.MULTILINE)
    assert command is not None
    assert_real_command(json.loads(command.group(1)))
    for variable in re.findall(r"\b(SEQTRACK_[A-Z_]+)=", dockerfile):
        assert variable in KNOWN_SETTINGS, variable
    # Backups of a PostgreSQL database need pg_dump in the image.
    assert "postgresql-client" in dockerfile
