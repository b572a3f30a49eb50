"""Django middleware of the project's own."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse


class OneThread:
    """The innermost middleware, sync only. Django adapts the chain around it: every middleware above it then
    runs in sync mode, all in the one thread the request is handed to. Without it, under ASGI, each of
    Django's middleware runs in async mode and sends its process_request and process_response through
    sync_to_async: about a dozen thread hand-offs per request, a tenth of the web process's CPU under load
    (bench/README.md)."""

    sync_capable = True
    async_capable = False

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)
