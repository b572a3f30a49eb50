"""An open WebSocket follows its credential: deactivating the user or deleting the token closes it
within moments (over the real uvicorn server), anything else unannounced within WS_AUTH_RECHECK_SECONDS;
and the origin check compares scheme, host and port."""

from __future__ import annotations

import time

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.authtoken.models import Token
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as ws_connect

from mediahub.asgi import application
from tests.test_ws_consumer import ORIGIN, WebsocketCommunicator, close_code, connected, run, token_path
from tests.test_ws_live import asgi_server  # noqa: F401 (a fixture)
from web.consumers import CLOSE_UNAUTHENTICATED

pytestmark = pytest.mark.django_db(transaction=True)


def _closed_within(socket, seconds: float) -> int | None:
    """The close code the server sent within `seconds`, failing if it sent nothing."""
    deadline = time.monotonic() + seconds
    with pytest.raises(ConnectionClosed):
        while time.monotonic() < deadline:
            socket.recv(timeout=max(0.01, deadline - time.monotonic()))
    return socket.close_code


def test_deactivating_the_user_closes_the_open_socket_within_seconds(asgi_server, user) -> None:  # noqa: F811
    token = Token.objects.create(user=user).key
    with ws_connect(f"{asgi_server.ws_url}?token={token}", open_timeout=5) as socket:
        socket.send('{"action": "sync"}')
        assert '"sync:done"' in socket.recv(timeout=5)  # open and served
        started = time.monotonic()
        user.is_active = False
        user.save()
        assert _closed_within(socket, 3) == CLOSE_UNAUTHENTICATED
        print(f"closed {time.monotonic() - started:.2f}s after the deactivation")


def test_deleting_the_token_closes_only_its_own_sockets(asgi_server, user) -> None:  # noqa: F811
    first, second = Token.objects.create(user=user), None
    with ws_connect(f"{asgi_server.ws_url}?token={first.key}", open_timeout=5) as revoked:
        first.delete()
        second = Token.objects.create(user=user)
        with ws_connect(f"{asgi_server.ws_url}?token={second.key}", open_timeout=5) as kept:
            assert _closed_within(revoked, 3) == CLOSE_UNAUTHENTICATED
            kept.send('{"action": "sync"}')
            assert '"sync:done"' in kept.recv(timeout=5)


def test_an_unannounced_change_is_caught_by_the_recheck(user, settings) -> None:
    """A bulk update sends no signal; the periodic recheck still closes the connection."""
    settings.WS_AUTH_RECHECK_SECONDS = 0.2
    path = token_path(user)

    async def scenario() -> None:
        communicator = await connected(path)
        await _deactivate_quietly(user.pk)
        assert await close_code(communicator) == CLOSE_UNAUTHENTICATED

    run(scenario)


async def _deactivate_quietly(user_id: int) -> None:
    from asgiref.sync import sync_to_async

    await sync_to_async(get_user_model().objects.filter(pk=user_id).update)(is_active=False)


def test_a_logged_out_session_is_closed_by_the_recheck(user, settings) -> None:
    settings.WS_AUTH_RECHECK_SECONDS = 0.2
    client = Client()
    client.force_login(user)
    cookie = (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())
    host = (b"host", b"127.0.0.1:8000")

    async def scenario() -> None:
        communicator = await connected("/ws/media/", headers=[ORIGIN, host, cookie])
        from asgiref.sync import sync_to_async

        await sync_to_async(client.logout)()
        assert await close_code(communicator) == CLOSE_UNAUTHENTICATED

    run(scenario)


@pytest.mark.parametrize(
    ("origin", "scheme", "accepted"),
    [
        ("http://127.0.0.1:8000", "ws", True),
        ("http://127.0.0.1:8001", "ws", False),  # another port of the same host is another site
        ("https://127.0.0.1:8000", "ws", False),  # another scheme too
        ("http://127.0.0.1:8000", "wss", False),  # a page over HTTP talking to the TLS endpoint
        ("https://127.0.0.1", "wss", False),  # port 443 is not the Host's 8000
        ("https://app.example:8443", "ws", True),  # listed in CSRF_TRUSTED_ORIGINS
        ("null", "ws", False),
    ],
)
def test_origins_are_compared_as_scheme_host_and_port(user, settings, origin: str, scheme: str, accepted: bool) -> None:
    settings.CSRF_TRUSTED_ORIGINS = ["https://app.example:8443"]
    path = token_path(user)

    async def scenario() -> None:
        communicator = WebsocketCommunicator(
            application, path, headers=[(b"origin", origin.encode()), (b"host", b"127.0.0.1:8000")]
        )
        communicator.scope["scheme"] = scheme
        ok, _ = await communicator.connect(timeout=5)
        assert ok == accepted
        if ok:
            await communicator.disconnect()

    run(scenario)
