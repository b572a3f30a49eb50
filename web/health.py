"""GET /api/health/: a cheap liveness answer for anyone; for operators (staff, or the metrics token),
every component the service needs, each checked for real."""

from __future__ import annotations

import subprocess
from collections.abc import Callable

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.utils.crypto import constant_time_compare
from django.views.decorators.http import require_GET

from media import engines, storage
from processing import scan


def _database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return connection.vendor


def _redis() -> str:
    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    client.ping()
    return "PONG"


def _storage() -> str:
    storage.ping()
    return storage.bucket_name()


def _clamav() -> str:
    return scan.ping(engines.clamd())


def _tool(setting: str) -> Callable[[], str]:
    def check() -> str:
        binary = getattr(settings, setting)
        out = subprocess.run([binary, "-version"], capture_output=True, text=True, timeout=5, check=True)
        return out.stdout.split("\n", 1)[0]

    return check


CHECKS: dict[str, Callable[[], str]] = {
    "database": _database,
    "redis": _redis,
    "storage": _storage,
    "clamav": _clamav,
    "ffmpeg": _tool("FFMPEG_BIN"),
    "ffprobe": _tool("FFPROBE_BIN"),
}


def check_all() -> dict[str, dict[str, str]]:
    results = {}
    for name, check in CHECKS.items():
        try:
            results[name] = {"status": "ok", "detail": check()}
        except Exception as exc:  # a health check reports every failure, whatever it is
            results[name] = {"status": "error", "detail": f"{type(exc).__name__}: {exc}"[:300]}
    return results


def is_operator(request: HttpRequest) -> bool:
    """Staff, or the bearer of METRICS_TOKEN; in development without a token, anyone."""
    token = settings.METRICS_TOKEN
    if token and constant_time_compare(request.headers.get("Authorization", ""), f"Bearer {token}"):
        return True
    if request.user.is_authenticated and request.user.is_staff:
        return True
    return not token and not settings.PRODUCTION


@require_GET
def health(request: HttpRequest) -> JsonResponse:
    if not is_operator(request):
        # liveness only: no subprocess, no versions, no bucket name for whoever asks
        return JsonResponse({"status": "ok"})
    components = check_all()
    down = sorted(name for name, result in components.items() if result["status"] != "ok")
    body = {"status": "ok" if not down else "error", "down": down, "components": components}
    return JsonResponse(body, status=200 if not down else 503)
