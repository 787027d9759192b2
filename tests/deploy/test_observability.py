"""Alert rules and the dashboard: valid PromQL (promtool), and every metric they name is really exported."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
import yaml

from seqtrack.jobs import registry
from tests.fixtures.processes import REPO
from tests.fixtures.services import IN_CI

RULES = sorted((REPO / "deploy" / "prometheus" / "rules").glob("*.yml"))
DASHBOARD = REPO / "deploy" / "grafana" / "dashboards" / "seqtrack.json"

PROMQL_WORDS = {
    # functions and aggregations appear followed by "(" and are dropped that way; these stand alone
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset", "and", "or", "unless",
    "inf", "nan",
}  # fmt: skip


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        message = "promtool is not installed (Debian package prometheus; .ci/run installs it)"
        if IN_CI:
            pytest.fail(f"CI must check the alert rules and dashboard: {message}")
        pytest.skip(message)
    return found


def check_rules(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool(), "check", "rules", str(path)], capture_output=True, text=True, timeout=60)


def alert_rules() -> list[dict[str, object]]:
    rules: list[dict[str, object]] = []
    for path in RULES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            rules.extend(group["rules"])
    return rules


def dashboard_expressions() -> list[tuple[str, str]]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [(panel["title"], target["expr"]) for panel in dashboard["panels"] for target in panel.get("targets", [])]


def metric_names(expression: str) -> set[str]:
    """The metric names a PromQL expression reads (not functions, labels, keywords or numbers)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', "", expression)
    text = re.sub(r"\{[^}]*\}", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        following = text[match.end() :].lstrip()
        if following.startswith("("):
            continue
        word = match.group(0)
        if word.lower() in PROMQL_WORDS or re.fullmatch(r"\d+[smhdwy]", word):
            continue
        names.add(word)
    return names


def test_the_alert_rules_pass_promtool() -> None:
    assert RULES
    for path in RULES:
        result = check_rules(path)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "SUCCESS" in result.stdout


def test_promtool_rejects_a_broken_rule(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(yaml.safe_dump({"groups": [{"name": "x", "rules": [{"alert": "A", "expr": "sum(rate(x[5m])"}]}]}))
    result = check_rules(broken)
    assert result.returncode != 0


def test_every_dashboard_expression_is_valid_promql(tmp_path: Path) -> None:
    expressions = dashboard_expressions()
    assert len(expressions) >= 15
    recording = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:panel_{index}", "expr": expr} for index, (_, expr) in enumerate(expressions)
                ],
            }
        ]
    }
    path = tmp_path / "dashboard-expressions.yml"
    path.write_text(yaml.safe_dump(recording))
    result = check_rules(path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(expressions)} rules found" in result.stdout


def test_every_alert_has_a_runbook_and_the_required_alerts_exist() -> None:
    rules = alert_rules()
    for rule in rules:
        annotations = rule["annotations"]
        assert isinstance(annotations, dict)
        assert len(str(annotations.get("runbook", "")).strip().splitlines()) >= 2, rule["alert"]
        assert annotations.get("summary"), rule["alert"]
    names = {str(rule["alert"]) for rule in rules}
    assert {
        "SeqTrackHighErrorRate",
        "SeqTrackSlowRequests",
        "SeqTrackDeadLetters",
        "SeqTrackRelayLagging",
        "SeqTrackBackupFailed",
        "SeqTrackBackupMissing",
        "SeqTrackTurnaroundBreached",
    } <= names


def test_the_dashboard_covers_what_an_operator_watches() -> None:
    titles = " ".join(title.lower() for title, _ in dashboard_expressions())
    for topic in (
        "requests",
        "latency",
        "errors",
        "jobs",
        "dead letters",
        "relay",
        "samples by state",
        "turnaround",
        "storage",
        "backup",
    ):
        assert topic in titles, topic


def test_metric_names_are_read_from_promql() -> None:
    assert metric_names('sum by (le) (rate(http_request_duration_seconds_bucket{route!~"/a|/b"}[5m])) > 0.5') == {
        "http_request_duration_seconds_bucket"
    }
    assert metric_names("time() - max(seqtrack_backup_last_success_timestamp_seconds) > 26 * 3600") == {
        "seqtrack_backup_last_success_timestamp_seconds"
    }


async def test_every_metric_named_in_dashboards_and_rules_is_exported(client: httpx.AsyncClient) -> None:
    # The worker's task modules register their metrics in the same registry its port serves.
    registry.load_task_modules([])
    exposition = (await client.get("/metrics")).text
    exported = set(re.findall(r"^# TYPE (\S+) ", exposition, re.MULTILINE))
    named = set()
    for rule in alert_rules():
        named |= metric_names(str(rule["expr"]))
    for _, expr in dashboard_expressions():
        named |= metric_names(expr)
    assert len(named) >= 20

    def is_exported(name: str) -> bool:
        # A histogram's family is named without the suffix of the series PromQL reads.
        return name in exported or re.sub(r"_(bucket|sum|count)$", "", name) in exported

    missing = sorted(name for name in named if not is_exported(name))
    assert missing == [], f"named in deploy/ but not exported by /metrics: {missing}"
