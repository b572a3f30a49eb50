"""WebSocket authentication: the DRF token in `?token=`, else the session cookie.

Browsers cannot set headers on a WebSocket handshake, so API clients pass
their token in the query string; the page uses its session cookie. A token
that is given but unknown is anonymous: an explicit credential that fails
never falls back to a cookie.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from channels.security.websocket import OriginValidator
from django.conf import settings
from django.contrib.auth.models import AnonymousUser


@database_sync_to_async
def _user_of_token(key: str) -> Any:
    from rest_framework.authtoken.models import Token

    token = Token.objects.select_related("user").filter(key=key).first()
    if token is None or not token.user.is_active:
        return AnonymousUser()
    return token.user


class TokenAuthMiddleware(BaseMiddleware):
    """Sets scope["user"] from `?token=` when one is given; placed inside AuthMiddlewareStack so it wins."""

    async def __call__(self, scope: dict, receive: Any, send: Any) -> Any:
        query = parse_qs(scope.get("query_string", b"").decode("latin1"))
        if "token" in query:
            scope = dict(scope, user=await _user_of_token(query["token"][0][:64]))
        return await self.inner(scope, receive, send)


class BrowserOriginValidator(OriginValidator):
    """Checks the Origin header against ALLOWED_HOSTS when there is one.

    The check guards against cross-site WebSocket hijacking, which needs a
    browser, and browsers always send Origin on a handshake. A client without
    one is an app or a script (channels' own validator would refuse it); it
    authenticates with its token or its own cookie like any API client.
    """

    def valid_origin(self, parsed_origin: Any) -> bool:
        return parsed_origin is None or super().valid_origin(parsed_origin)


def websocket_auth(inner: Any) -> Any:
    """The WebSocket stack: origin check, session auth, then the token, which overrides the session."""
    allowed = settings.ALLOWED_HOSTS or (["localhost", "127.0.0.1", "[::1]"] if settings.DEBUG else [])
    return BrowserOriginValidator(AuthMiddlewareStack(TokenAuthMiddleware(inner)), allowed)
