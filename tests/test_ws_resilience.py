"""WebSockets over the real server (uvicorn) when Redis, the channel layer's store, is away or restarts, and
when a connection stays idle for minutes. Redis is one of the test's own (its own port), killed and started
again for real; the idle test uses whatever channel-layer class the settings name."""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from channels.layers import channel_layers
from django.conf import settings
from rest_framework.authtoken.models import Token
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as ws_connect

from media import events
from media.models import Kind, Media
from mediahub import devstack
from tests.test_ws_live import LiveServer, asgi_server  # noqa: F401 - the fixture
from web.consumers import CLOSE_TRY_AGAIN_LATER


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def own_redis() -> Iterator[devstack.Service]:
    """A Redis of this test's own, which the channel layer uses while the test runs."""
    service = devstack._redis(f"redis://127.0.0.1:{_free_port()}/0")
    pid = service.start()
    layer = settings.CHANNEL_LAYERS["default"]
    saved = json.loads(json.dumps(layer))
    layer["CONFIG"]["hosts"][0]["address"] = f"redis://127.0.0.1:{service.port}/0"
    channel_layers.backends.clear()  # channels builds the layer again from the settings
    service.pids = [pid]  # type: ignore[attr-defined]
    try:
        yield service
    finally:
        settings.CHANNEL_LAYERS["default"] = saved
        channel_layers.backends.clear()
        devstack.stop(service.pids)  # type: ignore[attr-defined]  # and their pid files


def _kill(service: devstack.Service) -> None:
    pid = service.pids[-1]  # type: ignore[attr-defined]
    os.killpg(pid, signal.SIGKILL)
    while not devstack._gone(pid):
        time.sleep(0.05)


def _ws(server: LiveServer, user: Any) -> ClientConnection:
    token = Token.objects.get_or_create(user=user)[0].key
    return ws_connect(f"{server.ws_url}?token={token}", open_timeout=10)


def _closed_with(ws: ClientConnection, timeout: float = 15) -> int | None:
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ws.recv(timeout=deadline - time.monotonic())
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None
    except TimeoutError:
        return None
    return None


def _next_event(ws: ClientConnection, media_id: str, timeout: float = 10) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        event = json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
        if event.get("id") == media_id or event.get("event") == "sync:done":
            return event


def _media(user: Any) -> Media:
    return Media.objects.create(owner=user, kind=Kind.IMAGE, filename="a.jpg", content_type="image/jpeg", size=10)


def test_a_handshake_with_redis_down_is_accepted_then_closed_1013_and_a_restart_is_survived(
    asgi_server: LiveServer,  # noqa: F811
    own_redis: devstack.Service,
    user: Any,
) -> None:
    _kill(own_redis)
    with _ws(asgi_server, user) as ws:  # the handshake succeeds (no HTTP 500), then the server says "later"
        assert _closed_with(ws) == CLOSE_TRY_AGAIN_LATER
    own_redis.pids.append(own_redis.start())  # type: ignore[attr-defined]
    media = _media(user)
    with _ws(asgi_server, user) as ws:
        time.sleep(0.5)
        events.publish(media)
        assert _next_event(ws, str(media.id))["status"] == "PENDING"
        _kill(own_redis)  # Redis goes away under an open connection: closed with 1013, not left hanging
        assert _closed_with(ws, timeout=30) == CLOSE_TRY_AGAIN_LATER
    own_redis.pids.append(own_redis.start())  # type: ignore[attr-defined]
    # the client reconnects and catches up with sync
    with _ws(asgi_server, user) as ws:
        ws.send(json.dumps({"action": "sync"}))
        assert _next_event(ws, str(media.id))["id"] == str(media.id)
        assert _next_event(ws, "")["event"] == "sync:done"


@pytest.mark.slow
def test_an_idle_websocket_stays_open_for_two_minutes_and_gets_the_event_sent_then(
    asgi_server: LiveServer,  # noqa: F811
    user: Any,
) -> None:
    backend = settings.CHANNEL_LAYERS["default"]["BACKEND"]
    media = _media(user)
    with _ws(asgi_server, user) as ws:
        started = time.monotonic()
        with pytest.raises(TimeoutError):  # nothing arrives, and nothing breaks, for two minutes
            ws.recv(timeout=120)
        events.publish(media)
        event = _next_event(ws, str(media.id))
        print(f"{backend}: idle for {time.monotonic() - started:.0f} s, then got {event['status']}")
        assert event["status"] == "PENDING"
