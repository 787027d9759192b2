"""Configuration: bad values stop start-up naming the variable; production demands a real secret."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from seqtrack.settings import Settings, describe_validation_error


def _run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {key: value for key, value in os.environ.items() if not key.startswith("SEQTRACK_")}
    return subprocess.run(
        [sys.executable, "-m", "seqtrack", *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_with_changeme_secret_refuses_to_start(tmp_path: Path) -> None:
    result = _run_cli(
        "serve",
        env={
            "SEQTRACK_ENVIRONMENT": "production",
            "SEQTRACK_SECRET_KEY": "changeme",
            "SEQTRACK_DATA_DIR": str(tmp_path),
        },
    )
    assert result.returncode == 2
    assert "SEQTRACK_SECRET_KEY" in result.stderr
    assert "well-known default" in result.stderr


@pytest.mark.parametrize(
    ("secret", "reason"),
    [(None, "is not set"), ("short-but-not-default", "shorter than 32"), ("a" * 40, "too little variety")],
)
def test_production_refuses_weak_secrets(secret: str | None, reason: str) -> None:
    with pytest.raises(ValidationError) as raised:
        Settings(environment="production", secret_key=secret)
    assert reason in describe_validation_error(raised.value)


def test_production_accepts_a_strong_secret_from_a_file(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text("Zq7vN2pX9rT4wK8mB3cF6hJ1yL5sD0gA-strong-random\n")
    settings = Settings(environment="production", secret_key_file=secret_file)
    assert settings.signing_key().startswith("Zq7vN2")


def test_development_without_secret_keeps_one_generated_key(tmp_path: Path) -> None:
    first = Settings(data_dir=tmp_path).signing_key()
    second = Settings(data_dir=tmp_path).signing_key()
    assert first == second
    assert len(first) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_invalid_value_names_the_environment_variable(tmp_path: Path) -> None:
    result = _run_cli("config", "check", env={"SEQTRACK_PORT": "eighty", "SEQTRACK_DATA_DIR": str(tmp_path)})
    assert result.returncode == 2
    assert "SEQTRACK_PORT" in result.stderr


def test_unsupported_database_url_is_refused_by_name() -> None:
    with pytest.raises(ValidationError) as raised:
        Settings(database_url="mysql://root@localhost/lims")
    assert "SEQTRACK_DATABASE_URL" in describe_validation_error(raised.value)


def test_config_check_prints_effective_settings_with_secrets_masked(tmp_path: Path) -> None:
    result = _run_cli(
        "config",
        "check",
        env={
            "SEQTRACK_SECRET_KEY": "Zq7vN2pX9rT4wK8mB3cF6hJ1yL5sD0gA-not-shown",
            "SEQTRACK_DATABASE_URL": "postgresql://lims:hunter2-db-pass@db.internal:5432/seqtrack",
            "SEQTRACK_DATA_DIR": str(tmp_path),
        },
    )
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert "not-shown" not in result.stdout
    assert "hunter2-db-pass" not in result.stdout
    assert shown["secret_key"] == "**********"
    assert shown["effective_database_url"] == "postgresql+asyncpg://lims:***@db.internal:5432/seqtrack"
    assert shown["port"] == 8000


def test_cors_origins_accept_a_comma_separated_list() -> None:
    settings = Settings(cors_origins="https://a.example, https://b.example")
    assert settings.cors_origins == ["https://a.example", "https://b.example"]


def test_version_flag_prints_the_version(tmp_path: Path) -> None:
    result = _run_cli("--version", env={"SEQTRACK_DATA_DIR": str(tmp_path)})
    assert result.returncode == 0
    assert result.stdout.startswith("seqtrack ")
