"""Admission control: a bounded number of HTTP requests per web process, the rest refused early.

Django under ASGI runs each request in a thread of its own and nothing bounds them: past what the
process can serve, requests queue, every one gets slower, each holds a database connection, and the
overload ends in timeouts and 500s. Here at most MAX_CONCURRENT_REQUESTS run at once; a request waits
at most ADMISSION_WAIT seconds for a slot, then is answered 503 `overloaded` with Retry-After, without
touching Django, the database or Redis. WebSockets and the health check are not counted: the first
are long-lived and cheap between events, the second must answer while the process is busy.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from processing.codes import ErrorCode

EXEMPT_PATHS = frozenset({"/api/health/"})
MESSAGE = "The service is busy right now; please try again shortly."


class Admission:
    """ASGI middleware in front of Django's HTTP handler (mediahub/asgi.py)."""

    def __init__(self, app: Any, *, limit: int, wait: float, retry_after: int) -> None:
        self.app = app
        self.wait = wait
        self.limit = limit
        self.slots = asyncio.Semaphore(limit)  # bound to the server's one event loop on first use
        body = {"error": {"code": ErrorCode.OVERLOADED.value, "message": MESSAGE}}
        self.refusal = json.dumps(body).encode()
        self.retry_after = str(retry_after).encode()
        self.refused = 0  # since start, for the metrics and tests

    @property
    def in_flight(self) -> int:
        return self.limit - self.slots._value

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT_PATHS:
            return await self.app(scope, receive, send)
        try:
            await asyncio.wait_for(self.slots.acquire(), self.wait)
        except TimeoutError:
            self.refused += 1
            return await self._refuse(send)
        try:
            await self.app(scope, receive, send)
        finally:
            self.slots.release()

    async def _refuse(self, send: Any) -> None:
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(self.refusal)).encode()),
            (b"retry-after", self.retry_after),
            (b"cache-control", b"no-store"),
        ]
        await send({"type": "http.response.start", "status": 503, "headers": headers})
        await send({"type": "http.response.body", "body": self.refusal})
