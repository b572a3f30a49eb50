"""Small helpers shared by the tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]  # the checkout
# The shared photo corpus, beside the checkout (tests that need it skip when it is absent).
CORPUS = ROOT.parent / "shared" / "corpus"


def put_upload(upload: dict, body: bytes) -> requests.Response:
    """PUT the bytes as a client would: the returned URL and headers, nothing else."""
    return requests.put(upload["url"], data=body, headers=upload["headers"], timeout=30)


def stored_keys(prefix: str = "") -> list[str]:
    from media import storage

    return storage.list_keys(prefix)


def clear_queue(queue) -> None:
    """Empty an RQ queue and its registries, also of entries whose job record is already gone."""
    from rq.exceptions import NoSuchJobError

    queue.empty()
    registries = (
        queue.failed_job_registry,
        queue.finished_job_registry,
        queue.scheduled_job_registry,
        queue.started_job_registry,
        queue.deferred_job_registry,
    )
    for registry in registries:
        for job_id in registry.get_job_ids():
            try:
                registry.remove(job_id, delete_job=True)
            except NoSuchJobError:
                queue.connection.zrem(registry.key, job_id)


def ffmpeg_children() -> list[int]:
    """ffmpeg processes that are children of this test process (in-process workers run them)."""
    import contextlib
    import os
    from pathlib import Path

    pids: list[int] = []
    for listing in Path(f"/proc/{os.getpid()}/task").glob("*/children"):
        with contextlib.suppress(OSError):  # the thread ended meanwhile
            pids += [int(pid) for pid in listing.read_text().split()]
    found = []
    for pid in pids:
        with contextlib.suppress(OSError):  # it exited meanwhile (ENOENT, or ESRCH while it is reaped)
            if Path(f"/proc/{pid}/comm").read_text().strip() == "ffmpeg":
                found.append(pid)
    return found


def webp_chunks(data: bytes) -> list[bytes]:
    """The top-level RIFF chunk names of a WebP file (EXIF and XMP may only appear there)."""
    import struct

    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP", data[:16]
    chunks, pos = [], 12
    while pos + 8 <= len(data):
        name, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        chunks.append(name)
        pos += 8 + size + (size & 1)
    return chunks


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a process of the app (worker, web server) started by a test: this run's test
    database and bucket, so it sees what the test committed (tests using it need transaction=True)."""
    import os

    from django.conf import settings
    from django.db import connection

    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        import pytest

        pytest.skip("a second process needs the test database on PostgreSQL (set DATABASE_URL)")
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return {
        **os.environ,
        "DATABASE_URL": f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "S3_BUCKET": settings.AWS_STORAGE_BUCKET_NAME,
        "REDIS_URL": settings.REDIS_URL,
        **extra,
    }


class GroupEvents:
    """The events sent to a user's group while the block runs, received through the real channel layer as
    the WebSocket consumer receives them: from one event loop (in a thread of its own) that stays subscribed
    throughout. The Redis pub/sub layer subscribes per event loop, and `async_to_sync` makes a loop per call,
    so a subscription made that way is gone before the events are published.

        with GroupEvents(user.id) as seen:
            ...
            events = seen.until_final(media_id)
    """

    FINAL = ("READY", "REJECTED", "FAILED", "EXPIRED")

    def __init__(self, user_id: int) -> None:
        from media import events

        self.group = events.group_name(user_id)
        self.received: list[dict] = []

    def __enter__(self) -> GroupEvents:
        import asyncio
        import threading

        from channels.layers import get_channel_layer

        self.layer = get_channel_layer()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="group-events", daemon=True)
        self.thread.start()
        self.channel = self._run(self._subscribe())
        self.collecting = asyncio.run_coroutine_threadsafe(self._collect(), self.loop)
        return self

    def _run(self, coroutine):  # noqa: ANN001 - any coroutine
        import asyncio

        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=10)

    async def _subscribe(self) -> str:
        channel = await self.layer.new_channel("test-events.")
        await self.layer.group_add(self.group, channel)
        return channel

    async def _collect(self) -> None:
        while True:
            self.received.append((await self.layer.receive(self.channel))["event"])

    def until(self, done, timeout: float = 10) -> list[dict]:  # noqa: ANN001 - a predicate on the list
        import time

        deadline = time.monotonic() + timeout
        while not done(self.received):
            assert time.monotonic() < deadline, f"events so far: {self.received}"
            time.sleep(0.02)
        return list(self.received)

    def until_final(self, media_id: str, timeout: float = 10) -> list[dict]:
        """This media's events up to and including its first final one."""

        def mine(received: list[dict]) -> list[dict]:
            return [event for event in received if event["id"] == str(media_id)]

        self.until(lambda received: any(event["status"] in self.FINAL for event in mine(received)), timeout)
        events = mine(self.received)
        return events[: next(i for i, e in enumerate(events) if e["status"] in self.FINAL) + 1]

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.collecting.cancel)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()  # channels-redis closes this loop's connections with it


def start_worker(*queues: str) -> subprocess.Popen:
    """A real `manage.py rqworker` process on this run's database, bucket and Redis (its output discarded)."""
    return subprocess.Popen(
        [sys.executable, "manage.py", "rqworker", *queues],
        cwd=ROOT,
        env=child_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_for(condition, timeout: float = 90.0, step: float = 0.3) -> bool:  # noqa: ANN001 - any predicate
    """Whether `condition()` came true within `timeout` seconds, asked every `step`."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return False
