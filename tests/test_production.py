"""Production settings: `check --deploy` is silent behind the documented TLS proxy, and what tells
about the system (metrics, the detailed health answer) is for operators only."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _check_deploy(**env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "MEDIAHUB_ENV": "production", "SECRET_KEY": secrets.token_urlsafe(50), **env}
    environment.pop("DEBUG", None)
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_prints_no_warning_with_production_settings() -> None:
    result = _check_deploy()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
    assert "WARNING" not in result.stdout + result.stderr


def test_without_the_tls_proxy_check_deploy_says_what_is_missing() -> None:
    result = _check_deploy(HTTPS="false")
    assert result.returncode != 0
    assert "security.W004" in result.stderr and "security.W012" in result.stderr  # HSTS, secure cookies


@pytest.mark.django_db
def test_anonymous_metrics_are_refused_in_production(client, settings, django_user_model) -> None:
    settings.PRODUCTION, settings.METRICS_TOKEN = True, ""
    assert client.get("/metrics").status_code == 403  # no token set: nobody but staff
    settings.METRICS_TOKEN = "s3cret"
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret").status_code == 200
    client.force_login(django_user_model.objects.create_user("op", password="x", is_staff=True))
    assert client.get("/metrics").status_code == 200


@pytest.mark.django_db
def test_the_public_health_answer_is_liveness_only(client, settings, django_user_model) -> None:
    settings.PRODUCTION, settings.METRICS_TOKEN = True, "s3cret"
    answer = client.get("/api/health/")
    assert answer.status_code == 200 and answer.json() == {"status": "ok"}  # no versions, no bucket name
    detailed = client.get("/api/health/", HTTP_AUTHORIZATION="Bearer s3cret").json()
    assert set(detailed["components"]) == {"database", "redis", "storage", "clamav", "ffmpeg", "ffprobe"}
    client.force_login(django_user_model.objects.create_user("someone", password="x"))
    assert client.get("/api/health/").json() == {"status": "ok"}  # a user, not staff
