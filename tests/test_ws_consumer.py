"""The WebSocket consumer on the project's ASGI application, with the real channels-redis layer.

`channels.testing` imports daphne (for its live-server case), which this project does not use; the
few WebSocket helpers the tests need sit on asgiref's ApplicationCommunicator instead.

Each test runs its coroutine with async_to_sync; database work the consumer does in
database_sync_to_async lands back on this thread, so it sees the test's rows
(transactional: the consumer closes connections, which a test transaction would not survive).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlparse

import django_rq
import pytest
from asgiref.sync import async_to_sync, sync_to_async
from asgiref.testing import ApplicationCommunicator
from django.test import Client
from rest_framework.authtoken.models import Token
from rq.job import Job

from media import events, jobs
from media.models import Kind, Media, Status
from mediahub.asgi import application
from web import consumers
from web.consumers import CLOSE_UNAUTHENTICATED, EventFilter

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = (b"origin", b"http://127.0.0.1:8000")
HOST = (b"host", b"127.0.0.1:8000")  # the page's own origin: the same scheme, host and port


class WebsocketCommunicator(ApplicationCommunicator):
    """The WebSocket side of an ASGI application, like channels.testing's class of the same name."""

    def __init__(self, app: Any, path: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
        parsed = urlparse(path)
        scope = {
            "type": "websocket",
            "path": parsed.path,
            "query_string": parsed.query.encode(),
            "headers": headers or [],
        }
        super().__init__(app, scope)

    async def connect(self, timeout: float = 5) -> tuple[bool, Any]:
        await self.send_input({"type": "websocket.connect"})
        answer = await self.receive_output(timeout)
        if answer["type"] == "websocket.close":
            return False, answer.get("code", 1000)
        return True, answer.get("subprotocol")

    async def send_to(self, text_data: str) -> None:
        await self.send_input({"type": "websocket.receive", "text": text_data})

    async def send_json_to(self, data: Any) -> None:
        await self.send_to(json.dumps(data))

    async def receive_json_from(self, timeout: float = 5) -> Any:
        answer = await self.receive_output(timeout)
        assert answer["type"] == "websocket.send", answer
        return json.loads(answer["text"])

    async def disconnect(self, code: int = 1000, timeout: float = 5) -> None:
        await self.send_input({"type": "websocket.disconnect", "code": code})
        await self.wait(timeout)


def run(test: Callable[[], Awaitable[None]]) -> None:
    async_to_sync(test)()


def token_path(user: Any) -> str:
    return f"/ws/media/?token={Token.objects.get_or_create(user=user)[0].key}"


def make_media(owner: Any, **fields: Any) -> Media:
    fields = {"kind": Kind.IMAGE, "filename": "cat.jpg", "content_type": "image/jpeg", "size": 10, **fields}
    return Media.objects.create(owner=owner, **fields)


async def connected(path: str, headers: list[tuple[bytes, bytes]] | None = None) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, path, headers=headers)
    ok, _ = await communicator.connect(timeout=5)
    assert ok
    return communicator


async def publish(media: Media) -> None:
    await sync_to_async(events.publish)(media)


async def close_code(communicator: WebsocketCommunicator) -> int | None:
    message = await communicator.receive_output(timeout=5)
    assert message["type"] == "websocket.close"
    return message.get("code")


def test_each_user_receives_only_their_own_events(user, other_user) -> None:
    mine, theirs = make_media(user), make_media(other_user)
    alice_path, bob_path = token_path(user), token_path(other_user)

    async def scenario() -> None:
        alice = await connected(alice_path)
        bob = await connected(bob_path)
        await publish(theirs)
        await publish(mine)
        event = await alice.receive_json_from(timeout=5)
        assert event["event"] == f"progress:{mine.id}"
        assert {"id", "kind", "status", "progress", "stage", "thumbnail_url"} <= event.keys()
        assert await alice.receive_nothing(timeout=0.3)
        assert (await bob.receive_json_from(timeout=5))["id"] == str(theirs.id)
        assert await bob.receive_nothing(timeout=0.3)
        await alice.disconnect()
        await bob.disconnect()

    run(scenario)


def test_anonymous_and_bad_tokens_are_closed_with_4401(user) -> None:
    async def scenario() -> None:
        for path in ("/ws/media/", "/ws/media/?token=not-a-token", "/ws/media/?token="):
            communicator = await connected(path, headers=[ORIGIN, HOST])
            assert await close_code(communicator) == CLOSE_UNAUTHENTICATED
            await communicator.disconnect()

    run(scenario)


def test_a_bad_token_never_falls_back_to_the_session(user) -> None:
    client = Client()
    client.force_login(user)
    cookie = (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())

    async def scenario() -> None:
        communicator = await connected("/ws/media/?token=wrong", headers=[ORIGIN, HOST, cookie])
        assert await close_code(communicator) == CLOSE_UNAUTHENTICATED

    run(scenario)


def test_session_auth_and_the_origin_check(user, other_user) -> None:
    mine = make_media(user)
    client = Client()
    client.force_login(user)
    cookie = (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())

    async def scenario() -> None:
        communicator = await connected("/ws/media/", headers=[ORIGIN, HOST, cookie])
        await publish(mine)
        assert (await communicator.receive_json_from(timeout=5))["id"] == str(mine.id)
        await communicator.disconnect()

        # cross-site WebSocket hijacking: a page elsewhere cannot use the session cookie
        foreign = WebsocketCommunicator(
            application, "/ws/media/", headers=[(b"origin", b"https://evil.example"), cookie]
        )
        ok, _ = await foreign.connect(timeout=5)
        assert not ok

    run(scenario)


def test_catch_up_sends_one_event_per_unfinished_media_with_its_queue_place(user, other_user) -> None:
    pending = make_media(user)
    waiting = make_media(user, status=Status.PROCESSING, stage="queued", progress=0)
    running = make_media(user, status=Status.PROCESSING, stage="thumbnail", progress=40)
    make_media(user, status=Status.READY, progress=100, stage="done")
    make_media(user, status=Status.REJECTED, error_code="type_mismatch", error_message="Not an image.")
    make_media(other_user, status=Status.PROCESSING, stage="queued")
    assert jobs.enqueue_now(waiting.id, waiting.kind)

    path = token_path(user)

    async def scenario() -> None:
        communicator = await connected(path)
        await communicator.send_json_to({"action": "sync"})
        received = [await communicator.receive_json_from(timeout=5) for _ in range(4)]
        await communicator.disconnect()
        *per_media, done = received
        assert [e["id"] for e in per_media] == [str(running.id), str(waiting.id), str(pending.id)]  # newest first
        assert done == {"event": "sync:done", "ids": [str(running.id), str(waiting.id), str(pending.id)]}
        by_id = {e["id"]: e for e in per_media}
        assert by_id[str(running.id)]["progress"] == 40
        assert by_id[str(running.id)]["stage"] == "thumbnail"
        assert by_id[str(pending.id)]["status"] == Status.PENDING
        assert "queue_position" not in by_id[str(running.id)]
        assert by_id[str(waiting.id)]["queue_position"] >= 1  # others' leftovers may wait ahead of it

    try:
        run(scenario)
    finally:
        Job.fetch(jobs.job_id(waiting.id), connection=django_rq.get_queue("images").connection).delete()


def test_a_waiting_media_gets_its_queue_position_pushed(user) -> None:
    waiting = make_media(user, status=Status.PROCESSING, stage="queued", progress=0)

    path = token_path(user)

    async def scenario() -> None:
        communicator = await connected(path)
        await sync_to_async(jobs.enqueue_now)(waiting.id, waiting.kind)
        await publish(waiting)  # what start_processing publishes
        first = await communicator.receive_json_from(timeout=5)
        assert first["stage"] == "queued" and "queue_position" not in first
        placed = await communicator.receive_json_from(timeout=5)  # the consumer's own refresh
        assert placed["id"] == str(waiting.id)
        assert placed["queue_position"] >= 1
        assert "eta_seconds" in placed
        await communicator.disconnect()

    try:
        run(scenario)
    finally:
        Job.fetch(jobs.job_id(waiting.id), connection=django_rq.get_queue("images").connection).delete()


def test_unusable_messages_get_an_error_and_the_connection_stays(user, monkeypatch) -> None:
    monkeypatch.setattr(consumers, "SYNC_MIN_INTERVAL", 60.0)  # a busy machine must not outlast the throttle
    path = token_path(user)

    async def scenario() -> None:
        communicator = await connected(path)
        await communicator.send_to(text_data="not json")
        assert (await communicator.receive_json_from(timeout=5))["code"] == "unknown_action"
        await communicator.send_json_to({"action": "subscribe", "group": "media.user.1"})
        assert (await communicator.receive_json_from(timeout=5))["code"] == "unknown_action"
        await communicator.send_json_to({"action": "sync"})
        assert (await communicator.receive_json_from(timeout=5)) == {"event": "sync:done", "ids": []}
        await communicator.send_json_to({"action": "sync"})
        assert (await communicator.receive_json_from(timeout=5))["code"] == "throttled"
        await communicator.disconnect()

    run(scenario)


def event(status: str, progress: int, media_id: str = "m") -> dict[str, Any]:
    return {"id": media_id, "status": status, "progress": progress}


def test_the_event_filter_never_moves_a_client_backwards() -> None:
    seen = EventFilter()
    assert seen.admit(event("PENDING", 0))
    assert seen.admit(event("PROCESSING", 0))
    assert not seen.admit(event("PENDING", 0))
    assert seen.admit(event("PROCESSING", 40))
    assert seen.admit(event("PROCESSING", 40))  # a queue-position refresh repeats the progress
    assert not seen.admit(event("PROCESSING", 20))
    assert seen.admit(event("FAILED", 40))
    assert seen.admit(event("PROCESSING", 0))  # an operator's retry starts over
    assert seen.admit(event("READY", 100))
    assert not seen.admit(event("PROCESSING", 99))
    assert not seen.admit(event("READY", 100))
    assert seen.admit(event("PROCESSING", 10, media_id="other"))


def test_the_event_filter_remembers_a_bounded_number_of_media() -> None:
    seen = EventFilter(size=3)
    for n in range(10):
        assert seen.admit(event("READY", 100, media_id=str(n)))
    assert seen.admit(event("PROCESSING", 0, media_id="0"))  # forgotten: admitted again
    assert not seen.admit(event("PROCESSING", 0, media_id="9"))


def test_events_are_json_with_the_contract_fields(user) -> None:
    media = make_media(user, status=Status.REJECTED, error_code="type_mismatch", error_message="Not an image.")

    path = token_path(user)

    async def scenario() -> None:
        communicator = await connected(path)
        await publish(media)
        text = (await communicator.receive_output(timeout=5))["text"]
        await communicator.disconnect()
        payload = json.loads(text)
        assert payload["status"] == "REJECTED"
        assert payload["error"] == {"code": "type_mismatch", "message": "Not an image."}
        uuid.UUID(payload["id"])

    run(scenario)
