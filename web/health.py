"""GET /api/health/: every component the service needs, each checked for real."""

from __future__ import annotations

import subprocess
from collections.abc import Callable

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
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


@require_GET
def health(request: HttpRequest) -> JsonResponse:
    components = check_all()
    down = sorted(name for name, result in components.items() if result["status"] != "ok")
    body = {"status": "ok" if not down else "error", "down": down, "components": components}
    return JsonResponse(body, status=200 if not down else 503)
