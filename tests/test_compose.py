"""docker-compose.yml is validated offline: no Docker engine runs here or in CI."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import require_service

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
APP_SERVICES = ("web", "worker", "beat", "migrate")


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_file_passes_docker_compose_validation():
    binary = shutil.which("docker-compose")
    require_service("docker-compose (the offline validator)", binary is not None)
    result = subprocess.run(
        [binary, "-f", str(COMPOSE), "config", "-q"],
        env={"SECRET_KEY": "validation-only", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_full_stack_has_every_service(compose):
    assert set(compose["services"]) == {"postgres", "redis", "migrate", "web", "worker", "beat"}


def test_each_app_service_runs_its_process(compose):
    services = compose["services"]
    assert services["web"]["command"][0] == "gunicorn"
    assert services["worker"]["command"][:4] == ["celery", "-A", "leadcrm", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "leadcrm", "beat"]
    assert "migrate" in " ".join(services["migrate"]["command"])


def test_app_services_use_the_stack_database_and_broker(compose):
    for name in APP_SERVICES:
        env = compose["services"][name]["environment"]
        assert (
            env["DATABASE_URL"].startswith("postgres://")
            and "@postgres:5432/" in env["DATABASE_URL"]
        )
        assert env["REDIS_URL"] == "redis://redis:6379/0"


def test_app_waits_for_healthy_services_and_migrations(compose):
    for name in ("web", "worker", "beat"):
        depends = compose["services"][name]["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy"
        assert depends["redis"]["condition"] == "service_healthy"
        assert depends["migrate"]["condition"] == "service_completed_successfully"


def test_every_variable_the_stack_sets_is_documented_in_env_example(compose):
    documented = set(re.findall(r"^([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.M))
    used = set(compose["services"]["web"]["environment"])
    assert used - documented == set()


def test_redis_keeps_its_data_on_disk(compose):
    """The event buffer's accepted rows and the Celery queue live in Redis until taken."""
    redis = compose["services"]["redis"]
    command = redis["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    assert command[command.index("--appendfsync") + 1] == "everysec"
    assert any(volume.endswith(":/data") for volume in redis["volumes"])
