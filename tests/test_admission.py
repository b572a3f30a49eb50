"""Overload is answered, not crashed: past MAX_CONCURRENT_REQUESTS a web process refuses at once with 503
`overloaded` and Retry-After (web/admission.py), under a real uvicorn serving the real Django app."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import uvicorn
from rest_framework.authtoken.models import Token

from mediahub.asgi import application, django_asgi
from web.admission import Admission


def serve(app) -> Iterator[str]:  # noqa: ANN001 - an ASGI app
    """uvicorn serving the app on a free port, in a thread; yields its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning", timeout_graceful_shutdown=3))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture
def two_slots(transactional_db: None) -> Iterator[str]:
    """The Django app behind an admission of two requests at once, waiting at most 0.3 s for a slot."""
    yield from serve(Admission(django_asgi, limit=2, wait=0.3, retry_after=7))


@pytest.fixture
def four_slots(transactional_db: None) -> Iterator[str]:
    """Four at once, of which new uploads may take three."""
    yield from serve(Admission(django_asgi, limit=4, wait=0.3, retry_after=7))


def pending_media(base_url: str, auth: dict[str, str], count: int) -> list[str]:
    """Media created and never uploaded: confirming one waits CONFIRM_HEAD_MAX_WAIT for the store (a slow
    request that holds its slot)."""
    ids = []
    for n in range(count):
        created = requests.post(
            f"{base_url}/api/media/",
            json={"filename": f"never-{n}.txt", "content_type": "text/plain", "size": 10},
            headers=auth,
            timeout=10,
        )
        assert created.status_code == 201, created.text
        ids.append(created.json()["id"])
    return ids


def test_the_request_past_the_limit_is_refused_503_with_retry_after(two_slots: str, user, settings) -> None:
    settings.CONFIRM_HEAD_ATTEMPTS, settings.CONFIRM_HEAD_MAX_WAIT = 20, 2.0  # a confirm that waits 2 s: slow
    auth = {"Authorization": f"Token {Token.objects.create(user=user).key}"}
    ids = pending_media(two_slots, auth, 2)

    with ThreadPoolExecutor(2) as pool:
        # two confirms of files never uploaded: each waits for the store for CONFIRM_HEAD_MAX_WAIT
        confirm = f"{two_slots}/api/media/{{}}/confirm/"
        slow = [pool.submit(requests.post, confirm.format(i), headers=auth, timeout=30) for i in ids]
        time.sleep(0.6)
        started = time.monotonic()
        refused = requests.get(f"{two_slots}/api/media/", headers=auth, timeout=10)
        waited = time.monotonic() - started
        health = requests.get(f"{two_slots}/api/health/", timeout=10)  # never counted: it must answer when busy
        answers = [future.result() for future in slow]

    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "7"
    assert refused.json() == {
        "error": {"code": "overloaded", "message": "The service is busy right now; please try again shortly."}
    }
    assert waited < 1.5  # refused after the 0.3 s wait, not after the slow ones finished
    assert health.status_code == 200
    # the admitted ones were served as usual, and their slots are free again
    assert [a.status_code for a in answers] == [409, 409]
    assert {a.json()["error"]["code"] for a in answers} == {"upload_missing"}
    assert requests.get(f"{two_slots}/api/media/", headers=auth, timeout=10).status_code == 200


def test_the_project_app_is_behind_the_admission(settings) -> None:
    http = application.application_mapping["http"]
    assert isinstance(http, Admission) and http.app is django_asgi
    assert http.limit == settings.MAX_CONCURRENT_REQUESTS


def test_new_uploads_leave_room_for_the_uploads_in_progress(four_slots: str, user, settings) -> None:
    """With three of four slots busy, a new upload is refused, while a confirm (or a read) still gets in."""
    settings.CONFIRM_HEAD_ATTEMPTS, settings.CONFIRM_HEAD_MAX_WAIT = 20, 2.0
    auth = {"Authorization": f"Token {Token.objects.create(user=user).key}"}
    ids = pending_media(four_slots, auth, 4)
    with ThreadPoolExecutor(3) as pool:
        confirm = f"{four_slots}/api/media/{{}}/confirm/"
        slow = [pool.submit(requests.post, confirm.format(i), headers=auth, timeout=30) for i in ids[:3]]
        time.sleep(0.6)
        body = {"filename": "new.txt", "content_type": "text/plain", "size": 10}
        new_upload = requests.post(f"{four_slots}/api/media/", json=body, headers=auth, timeout=10)
        in_progress = requests.get(f"{four_slots}/api/media/{ids[3]}/", headers=auth, timeout=10)
        [future.result() for future in slow]

    assert new_upload.status_code == 503 and new_upload.json()["error"]["code"] == "overloaded"
    assert new_upload.headers["Retry-After"] == "7"
    assert in_progress.status_code == 200
    assert requests.post(f"{four_slots}/api/media/", json=body, headers=auth, timeout=10).status_code == 201


def test_one_admission_serves_each_new_event_loop() -> None:
    """The project's app outlives a server's event loop (tests start uvicorn again and again in one process):
    asyncio primitives bound to the first loop must not refuse or fail the next one's requests. The inner
    app stands in for Django: a request that takes 50 ms."""

    async def slow(scope: dict, receive: object, send) -> None:  # noqa: ANN001 - ASGI send
        await asyncio.sleep(0.05)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    admission = Admission(slow, limit=1, wait=2.0, retry_after=1)

    async def burst() -> list[int]:
        statuses: list[int] = []

        async def send(message: dict) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])

        scope = {"type": "http", "path": "/api/media/", "method": "GET"}
        await asyncio.gather(*(admission(scope, None, send) for _ in range(3)))  # two wait for the one slot
        return statuses

    assert asyncio.run(burst()) == [200, 200, 200]
    assert asyncio.run(burst()) == [200, 200, 200]  # another loop, the same admission
