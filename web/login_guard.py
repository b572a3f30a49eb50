"""Login throttling with django-axes, for the login page, the admin's and the token endpoint.

Failed attempts are counted in the shared Redis cache per account and per
client address (AXES_LOCKOUT_PARAMETERS); past LOGIN_FAILURE_LIMIT either is
locked for LOGIN_COOLOFF_MINUTES and answers 429 with Retry-After, the right
password included. The client address is the one DRF's throttles use: the
socket's peer, or with NUM_PROXIES trusted proxies in front, the address the
outermost one saw; a raw X-Forwarded-For is never believed by default.
"""

from __future__ import annotations

import logging
from typing import Any

from axes.handlers.cache import AxesCacheHandler
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from redis.exceptions import RedisError
from rest_framework.throttling import BaseThrottle

from processing.codes import ErrorCode

log = logging.getLogger(__name__)


def client_address(request: HttpRequest) -> str:
    return BaseThrottle().get_ident(request)


def lockout(request: HttpRequest, response: HttpResponse | None, credentials: dict | None) -> HttpResponse:
    retry_after = str(settings.LOGIN_COOLOFF_MINUTES * 60)
    message = "Too many failed logins; please wait a while before trying again."
    if request.path.startswith("/api/"):
        answer: HttpResponse = JsonResponse(
            {"error": {"code": ErrorCode.TOO_MANY_ATTEMPTS, "message": message}}, status=429
        )
    else:
        answer = HttpResponse(f"<!doctype html><title>Locked</title><p>{message}</p>", status=429)
    answer["Retry-After"] = retry_after
    return answer


class CacheHandler(AxesCacheHandler):
    """Axes on the Redis cache; with Redis down, logins go on uncounted, like the API's throttles:
    a rate limit is not worth an outage."""

    def get_failures(self, request: HttpRequest, credentials: dict | None = None) -> int:
        try:
            return super().get_failures(request, credentials)
        except RedisError:
            log.warning("login failure counters unavailable (Redis); login allowed", exc_info=True)
            return 0

    def user_login_failed(self, sender: Any, credentials: dict, request: HttpRequest | None = None, **kwargs) -> None:
        try:
            super().user_login_failed(sender, credentials, request, **kwargs)
        except RedisError:
            log.warning("login failure not counted (Redis down)", exc_info=True)
