"""WebSocket authentication: the DRF token in `?token=`, else the session cookie.

Browsers cannot set headers on a WebSocket handshake, so API clients pass
their token in the query string; the page uses its session cookie. A token
that is given but unknown is anonymous: an explicit credential that fails
never falls back to a cookie.

A connection outlives its handshake, so its credential is checked again:
deactivating a user or deleting a token closes its connections at once
(media/signals.py tells the user's group), and every WS_AUTH_RECHECK_SECONDS
the consumer asks `still_valid` (a logout, a changed password).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any
from urllib.parse import parse_qs, urlsplit

from channels.auth import AuthMiddlewareStack, get_user
from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.contrib.auth.models import AnonymousUser

DEFAULT_PORTS = {"http": 80, "https": 443}


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
            key = query["token"][0][:64]
            scope = dict(scope, user=await _user_of_token(key), auth_token=key)
        return await self.inner(scope, receive, send)


async def still_valid(scope: dict) -> bool:
    """Whether the connection's credential still names an active user: its token, else its session,
    read afresh from the store (channels' get_user checks the session's password hash as Django does)."""
    key = scope.get("auth_token")
    if key:
        user = await _user_of_token(key)
    else:
        session = import_module(settings.SESSION_ENGINE).SessionStore(session_key=scope["session"].session_key)
        user = await get_user(dict(scope, session=session))
    return user.is_authenticated and user.pk == scope["user"].pk


def _origin(value: str) -> tuple[str, str, int] | None:
    parts = urlsplit(value.strip().lower())
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    try:
        return parts.scheme, parts.hostname, parts.port or DEFAULT_PORTS[parts.scheme]
    except ValueError:  # a port that is not a number
        return None


def allowed_origin(origin: str, scope: dict) -> bool:
    """Same origin as the handshake itself (scheme, Host and port), or one of CSRF_TRUSTED_ORIGINS."""
    headers = dict(scope.get("headers", []))
    own_scheme = "https" if scope.get("scheme") in ("wss", "https") else "http"
    own = _origin(f"{own_scheme}://{headers.get(b'host', b'').decode('latin1')}")
    trusted = {_origin(item) for item in settings.CSRF_TRUSTED_ORIGINS}
    found = _origin(origin)
    return found is not None and (found == own or found in trusted)


class OriginCheck(BaseMiddleware):
    """Refuses a handshake whose Origin is another site's, compared as scheme://host:port.

    The check guards against cross-site WebSocket hijacking, which needs a
    browser, and browsers always send Origin on a handshake. A client without
    one is an app or a script; it authenticates with its token or its own
    cookie like any API client.
    """

    async def __call__(self, scope: dict, receive: Any, send: Any) -> Any:
        origin = dict(scope.get("headers", [])).get(b"origin")
        if origin is not None and not allowed_origin(origin.decode("latin1"), scope):
            return await WebsocketDenier()(scope, receive, send)
        return await self.inner(scope, receive, send)


def websocket_auth(inner: Any) -> Any:
    """The WebSocket stack: origin check, session auth, then the token, which overrides the session."""
    return OriginCheck(AuthMiddlewareStack(TokenAuthMiddleware(inner)))
