"""Small helpers shared by the tests."""

from __future__ import annotations

import requests


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
