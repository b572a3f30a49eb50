"""Live progress end to end: the project's ASGI app under uvicorn, a real RQ worker, SeaweedFS, a WebSocket client.

The server runs in a thread of the test process, so it shares the test database
(an in-memory SQLite or PostgreSQL's test database alike); `transactional_db`
makes the rows visible to it. The fixtures are reused by the browser test.
"""

from __future__ import annotations

import io
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import django_rq
import pytest
import requests
import uvicorn
from django.db import connection, connections
from PIL import Image
from rest_framework.authtoken.models import Token
from rq import SimpleWorker
from rq.timeouts import TimerDeathPenalty
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as ws_connect

from mediahub.asgi import application
from tests import image_samples
from tests.helpers import put_upload
from web.consumers import CLOSE_UNAUTHENTICATED

QUEUES = ("images", "videos", "default")


@dataclass(frozen=True)
class LiveServer:
    url: str

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://", 1) + "/ws/media/"


@pytest.fixture
def asgi_server(transactional_db: None) -> Iterator[LiveServer]:
    """uvicorn serving mediahub.asgi.application on a free port, in a thread, for one test."""
    # Connections opened by the server's threads close after each request, so the test database
    # can be flushed (and, on PostgreSQL, dropped) with nobody else attached.
    conn_max_age = connection.settings_dict["CONN_MAX_AGE"]
    connection.settings_dict["CONN_MAX_AGE"] = 0
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(application, lifespan="off", log_level="warning", timeout_graceful_shutdown=3)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
        connection.settings_dict["CONN_MAX_AGE"] = conn_max_age


class ThreadWorker(SimpleWorker):
    """A SimpleWorker that runs in a thread: no signal handlers, job timeouts by timer, not SIGALRM."""

    death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self) -> None:
        pass


class WorkerControl:
    """Lets a test hold jobs in their queue (to see them wait) and release them."""

    def __init__(self) -> None:
        self.running = threading.Event()
        self.running.set()

    def pause(self) -> None:
        self.running.clear()

    def resume(self) -> None:
        self.running.set()


@pytest.fixture
def worker_thread(transactional_db: None) -> Iterator[WorkerControl]:
    """Jobs of every queue are processed while the test runs, images first, as `make run`'s worker does."""
    stop = threading.Event()
    control = WorkerControl()
    queues = [django_rq.get_queue(name) for name in QUEUES]

    def loop() -> None:
        try:
            while not stop.is_set():
                if control.running.is_set():  # a pause takes effect between bursts, when the queues were empty
                    ThreadWorker(queues, connection=queues[0].connection).work(burst=True, logging_level="WARNING")
                stop.wait(0.2)
        finally:
            connections.close_all()

    thread = threading.Thread(target=loop, name="rq-worker", daemon=True)
    thread.start()
    yield control
    stop.set()
    thread.join(120)


def jpeg(width: int = 640, height: int = 480) -> bytes:
    buffer = io.BytesIO()
    Image.effect_mandelbrot((width, height), (-2, -1.2, 1, 1.2), 64).convert("RGB").save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def events_until_final(ws: ClientConnection, media_id: str, timeout: float = 60) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        event = json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
        if event.get("id") != media_id:
            continue
        seen.append(event)
        if event["status"] in {"READY", "REJECTED", "FAILED"}:
            return seen
    raise AssertionError(f"no final event within {timeout}s; got {seen}")


@pytest.mark.slow
def test_an_image_streams_its_progress_over_the_real_server(asgi_server: LiveServer, user: Any, settings) -> None:
    settings.PROGRESS_MIN_INTERVAL = 0  # every stage, not one per half second (tests/test_query_budget.py)
    token = Token.objects.create(user=user).key
    auth = {"Authorization": f"Token {token}"}
    body = jpeg()
    with ws_connect(f"{asgi_server.ws_url}?token={token}", open_timeout=10) as ws:
        created = requests.post(
            f"{asgi_server.url}/api/media/",
            json={"filename": "fractal.jpg", "content_type": "image/jpeg", "size": len(body)},
            headers=auth,
            timeout=10,
        )
        assert created.status_code == 201, created.text
        media_id = created.json()["id"]
        assert put_upload(created.json()["upload"], body).status_code == 200
        confirmed = requests.post(f"{asgi_server.url}/api/media/{media_id}/confirm/", headers=auth, timeout=30)
        assert confirmed.status_code == 202, confirmed.text

        queue = django_rq.get_queue("images")
        SimpleWorker([queue], connection=queue.connection).work(burst=True, with_scheduler=False)
        seen = events_until_final(ws, media_id)

    assert [e["status"] for e in seen[:-1]] == ["PROCESSING"] * (len(seen) - 1)
    final = seen[-1]
    assert final["status"] == "READY" and final["progress"] == 100 and final["kind"] == "image"
    progress = [e["progress"] for e in seen]
    assert progress == sorted(progress), progress
    stages = [e["stage"] for e in seen]
    distinct = [s for i, s in enumerate(stages) if i == 0 or s != stages[i - 1]]  # placement updates repeat one
    assert distinct == image_samples.STAGES
    assert all(e["event"] == f"progress:{media_id}" for e in seen)

    thumbnail = requests.get(final["thumbnail_url"], timeout=10)
    assert thumbnail.status_code == 200
    picture = Image.open(io.BytesIO(thumbnail.content))
    assert picture.format == "WEBP"
    assert picture.size == (150, 150)


@pytest.mark.slow
def test_the_real_server_closes_anonymous_sockets_with_4401(asgi_server: LiveServer) -> None:
    for url in (asgi_server.ws_url, f"{asgi_server.ws_url}?token=nope"):
        with ws_connect(url, open_timeout=10) as ws, pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == CLOSE_UNAUTHENTICATED
