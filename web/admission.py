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
NEW_UPLOADS = ("POST", "/api/media/")  # what starts new work; everything else finishes or reads work accepted
MESSAGE = "The service is busy right now; please try again shortly."


class Admission:
    """ASGI middleware in front of Django's HTTP handler (mediahub/asgi.py).

    A quarter of the slots is kept for requests that finish work already accepted (confirms, above all):
    new uploads are admitted only while more than that is free, so under overload the uploads in progress
    still reach a final state and the new ones are refused at the door."""

    def __init__(self, app: Any, *, limit: int, wait: float, retry_after: int) -> None:
        self.app = app
        self.limit = limit
        self.new_upload_limit = max(1, limit - limit // 4)
        self.wait = wait
        self.in_flight = 0
        self.freed = asyncio.Condition()
        self.loop: asyncio.AbstractEventLoop | None = None
        body = {"error": {"code": ErrorCode.OVERLOADED.value, "message": MESSAGE}}
        self.refusal = json.dumps(body).encode()
        self.retry_after = str(retry_after).encode()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT_PATHS:
            return await self.app(scope, receive, send)
        if self.loop is not asyncio.get_running_loop():
            # asyncio primitives belong to one loop: a server (a test's, say) started anew gets fresh ones
            self.loop, self.freed, self.in_flight = asyncio.get_running_loop(), asyncio.Condition(), 0
        cap = self.new_upload_limit if (scope["method"], scope["path"]) == NEW_UPLOADS else self.limit
        async with self.freed:
            try:
                await asyncio.wait_for(self.freed.wait_for(lambda: self.in_flight < cap), self.wait)
            except TimeoutError:
                admitted = False
            else:
                admitted = True
                self.in_flight += 1
        if not admitted:
            return await self._refuse(send)
        try:
            await self.app(scope, receive, send)
        finally:
            async with self.freed:
                self.in_flight -= 1
                self.freed.notify_all()

    async def _refuse(self, send: Any) -> None:
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(self.refusal)).encode()),
            (b"retry-after", self.retry_after),
            (b"cache-control", b"no-store"),
        ]
        await send({"type": "http.response.start", "status": 503, "headers": headers})
        await send({"type": "http.response.body", "body": self.refusal})
