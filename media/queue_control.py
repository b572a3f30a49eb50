"""Operators' controls over the RQ queues: pause and resume, empty, requeue a failed job, and the
overview the admin's queue page shows.

A paused queue is a member of one Redis set (PAUSED_KEY); `media.worker.MediahubWorker` reads it before
each dequeue and skips those queues, so running jobs finish and nothing new starts there. Requeueing
a failed media job goes through the operator's retry (`uploads.media_retry`): the job itself skips a
media that is not PROCESSING, so putting the old job back would do nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import django_rq
from django.conf import settings
from redis import Redis
from rq import Queue, Worker
from rq.job import Job
from rq.registry import (
    DeferredJobRegistry,
    FailedJobRegistry,
    FinishedJobRegistry,
    ScheduledJobRegistry,
    StartedJobRegistry,
)

from media import jobs, uploads
from media.models import Media, Status

PAUSED_KEY = "mediahub:paused-queues"


def queue(name: str) -> Queue:
    if name not in settings.RQ_QUEUES:
        raise ValueError(f"no queue named {name!r}")
    return django_rq.get_queue(name, commit_mode="auto")


def _connection() -> Redis:
    return django_rq.get_connection(next(iter(settings.RQ_QUEUES)))


def paused_names(connection: Redis | None = None) -> set[str]:
    return {name.decode() for name in (connection or _connection()).smembers(PAUSED_KEY)}


def queue_pause(*, name: str) -> None:
    queue(name)  # refuses an unknown name
    _connection().sadd(PAUSED_KEY, name)


def queue_resume(*, name: str) -> None:
    queue(name)
    _connection().srem(PAUSED_KEY, name)


def queue_empty(*, name: str) -> int:
    """Drop every waiting job of the queue; returns how many. Their media stay PROCESSING and
    `maintenance.resume_stalled` queues them again later, so no upload is lost."""
    return queue(name).empty()


def job_requeue(*, name: str, job_id: str) -> bool:
    """Run a failed job again. A media's job goes through the operator's retry (FAILED -> PROCESSING,
    a fresh job), or is queued again if its media still waits; any other job is requeued by RQ."""
    q = queue(name)
    registry = FailedJobRegistry(queue=q)
    if job_id not in registry.get_job_ids():
        return False
    if job_id.startswith("media-"):
        media = Media.objects.filter(pk=job_id.removeprefix("media-")).first()
        if media is None:
            registry.remove(job_id, delete_job=True)  # its media is gone: nothing to do again
            return False
        if media.status == Status.FAILED:
            return uploads.media_retry(media=media) is not None
        if media.status == Status.PROCESSING:
            return jobs.enqueue_now(media.id, media.kind)
        registry.remove(job_id, delete_job=True)  # READY or final: the failure is history
        return False
    registry.requeue(job_id)
    return True


@dataclass(frozen=True)
class WorkerRow:
    name: str
    queues: list[str]
    state: str
    job: str  # what it is doing: the current job's description, or ""


@dataclass(frozen=True)
class QueueRow:
    name: str
    paused: bool
    counts: dict[str, int]
    failed_jobs: list[dict[str, Any]]


STATES = ("queued", "started", "scheduled", "deferred", "finished", "failed")
FAILED_SHOWN = 50  # failed jobs listed per queue on the page


def overview() -> tuple[list[QueueRow], list[WorkerRow]]:
    paused = paused_names()
    rows = []
    for name in settings.RQ_QUEUES:
        q = queue(name)
        failed = FailedJobRegistry(queue=q)
        counts = {
            "queued": q.count,
            "started": StartedJobRegistry(queue=q).count,
            "scheduled": ScheduledJobRegistry(queue=q).count,
            "deferred": DeferredJobRegistry(queue=q).count,
            "finished": FinishedJobRegistry(queue=q).count,
            "failed": failed.count,
        }
        shown = [job for job in Job.fetch_many(failed.get_job_ids(0, FAILED_SHOWN - 1), connection=q.connection) if job]
        failed_jobs = [
            {"id": job.id, "description": job.description or job.id, "ended_at": job.ended_at} for job in shown
        ]
        rows.append(QueueRow(name=name, paused=name in paused, counts=counts, failed_jobs=failed_jobs))
    workers = []
    for worker in Worker.all(connection=_connection()):
        current = worker.get_current_job()
        workers.append(
            WorkerRow(
                name=worker.name,
                queues=worker.queue_names(),
                state=str(worker.get_state()),
                job=(current.description or current.id) if current else "",
            )
        )
    return rows, sorted(workers, key=lambda w: w.name)
