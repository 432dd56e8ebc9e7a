import os
import subprocess
import sys
from pathlib import Path

import pytest

from config.env import ConfigError, database_config, env_bool, redact_url

ROOT = Path(__file__).resolve().parents[2]


def run_manage(*args: str, env: dict[str, str], timeout: int = 60) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("BAOXIAO_", "DATABASE_", "REDIS_"))}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=clean | env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_no_database_url_means_sqlite_under_var(tmp_path):
    config = database_config("", tmp_path)
    assert config["ENGINE"] == "django.db.backends.sqlite3"
    assert config["NAME"] == tmp_path / "db.sqlite3"


def test_postgres_url_uses_persistent_connections_with_health_checks(tmp_path):
    config = database_config("postgres://app:secret@db.internal:5433/baoxiao", tmp_path)
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["HOST"], config["PORT"], config["NAME"]) == ("db.internal", 5433, "baoxiao")
    assert config["CONN_MAX_AGE"] == 60 and config["CONN_HEALTH_CHECKS"] is True


def test_pool_option_switches_to_psycopg_pool(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_POOL", "1")
    config = database_config("postgres://app@db/baoxiao", tmp_path)
    assert config["CONN_MAX_AGE"] == 0
    assert config["OPTIONS"]["pool"]["max_size"] == 10


@pytest.mark.parametrize(
    "url,fragment",
    [("mysql://u@h/db", "unsupported scheme"), ("postgres://u@h", "names no database")],
)
def test_bad_database_urls_are_named_with_a_fix(tmp_path, url, fragment):
    with pytest.raises(ConfigError, match=fragment):
        database_config(url, tmp_path)


def test_booleans_reject_what_they_cannot_read(monkeypatch):
    monkeypatch.setenv("X_FLAG", "maybe")
    with pytest.raises(ConfigError, match="X_FLAG"):
        env_bool("X_FLAG")
    monkeypatch.setenv("X_FLAG", "Yes")
    assert env_bool("X_FLAG") is True


def test_passwords_never_appear_in_printed_urls():
    assert redact_url("postgres://app:hunter2@db/x") == "postgres://app:***@db/x"


def test_a_development_secret_is_generated_once_and_kept(tmp_path):
    env = {"BAOXIAO_VAR_DIR": str(tmp_path)}
    code = "from django.conf import settings; print(settings.SECRET_KEY)"
    first = run_manage("shell", "--no-imports", "-c", code, env=env)
    second = run_manage("shell", "--no-imports", "-c", code, env=env)
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout and len(first.stdout.strip()) >= 50
    assert (tmp_path / "secret_key").read_text().strip() == first.stdout.strip()


def test_production_refuses_to_start_without_a_secret_in_one_line(tmp_path):
    result = run_manage("check", env={"BAOXIAO_ENV": "production", "BAOXIAO_VAR_DIR": str(tmp_path)})
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0
    assert "BAOXIAO_SECRET_KEY" in result.stderr


def test_production_refuses_to_start_without_allowed_hosts(tmp_path):
    env = {
        "BAOXIAO_ENV": "production",
        "BAOXIAO_SECRET_KEY": "prod-" + "a1B2c3D4e5" * 6,
        "BAOXIAO_VAR_DIR": str(tmp_path),
    }
    result = run_manage("check", env=env)
    assert result.returncode == 2
    assert "BAOXIAO_ALLOWED_HOSTS" in result.stderr and "Traceback" not in result.stderr


def test_production_mode_passes_the_deployment_checks_without_a_warning(tmp_path):
    env = {
        "BAOXIAO_ENV": "production",
        "BAOXIAO_SECRET_KEY": "prod-" + "a1B2c3D4e5" * 6,
        "BAOXIAO_ALLOWED_HOSTS": "baoxiao.example.com",
        "BAOXIAO_AUDIT_HMAC_KEY": "k" * 43,  # production refuses to start without the audit chain key
        "BAOXIAO_VAR_DIR": str(tmp_path),
    }
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_an_unreachable_database_is_one_clear_line(tmp_path):
    env = {"DATABASE_URL": "postgres://nobody:pw@127.0.0.1:1/nothing", "BAOXIAO_VAR_DIR": str(tmp_path)}
    result = run_manage("migrate", env=env)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    line = result.stderr.strip()
    assert line.startswith("baoxiao: cannot use the database (postgres://nobody:***@127.0.0.1:1/nothing)")
    assert "pw@" not in line


def test_an_unreachable_redis_is_one_clear_line(tmp_path):
    env = {"REDIS_URL": "redis://127.0.0.1:1/0", "BAOXIAO_VAR_DIR": str(tmp_path)}
    result = run_manage("migrate", env=env)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().startswith("baoxiao: cannot reach Redis (redis://127.0.0.1:1/0)")


def test_a_malformed_setting_is_one_clear_line(tmp_path):
    result = run_manage("check", env={"DATABASE_URL": "mysql://x@y/z", "BAOXIAO_VAR_DIR": str(tmp_path)})
    assert result.returncode == 2
    assert result.stderr.strip().startswith("baoxiao: configuration error: DATABASE_URL=")


def test_empty_text_variables_fall_back_to_their_default(monkeypatch):
    from config.env import env_str

    monkeypatch.setenv("X_TEXT", "  ")
    assert env_str("X_TEXT", "fallback") == "fallback"
