"""Small helpers shared by the tests."""

from __future__ import annotations

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
