"""Where a waiting media stands in its queue, and about how long until it is done.

- Position: 1 is the next job a worker takes (RQ pushes on the right and pops
  on the left), found with Redis LPOS capped at SCAN_LIMIT entries, so a huge
  backlog costs Redis a bounded scan and no transfer. Past the cap, or when
  the job is not in the list (scheduled for a retry, just taken by a worker),
  the media has no position.
- Typical duration: the median of `finished_at - processing_started_at` of the
  last SAMPLE_SIZE READY media of that kind (the median ignores a few huge
  videos), cached per process for CACHE_SECONDS.
- Estimate (`estimate_seconds`): the wait for the first busy worker to finish
  (typical minus the longest elapsed run), plus one typical run per full round
  of workers ahead of this job, plus its own run.

One call costs one database query for the media, one for the typical duration
when the cache is cold, and one Redis round trip per queue involved (a
pipeline of LPOS per media, SCARD of the queue's workers, ZRANGE of its
running jobs).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import django_rq
from django.utils import timezone
from rq.queue import Queue
from rq.registry import StartedJobRegistry
from rq.worker_registration import WORKERS_BY_QUEUE_KEY

from media import jobs
from media.models import Media, Status

SCAN_LIMIT = 1000  # queue entries LPOS looks at
SAMPLE_SIZE = 20  # recent READY media per kind behind the typical duration
CACHE_SECONDS = 30.0
QUEUED_STAGE = "queued"  # lifecycle.start_processing's stage until a worker picks the job

_typical_cache: dict[str, tuple[float, float | None]] = {}


@dataclass(frozen=True)
class Placement:
    position: int  # 1 = next to be taken
    eta_seconds: int | None  # None: no worker serves the queue, or no history to estimate from

    def as_event(self) -> dict[str, Any]:
        return {"queue_position": self.position, "eta_seconds": self.eta_seconds}


def estimate_seconds(
    *, position: int, typical: float | None, workers: int, running_elapsed: Sequence[float] = ()
) -> int | None:
    """Seconds until the job at `position` is done, or None when nothing can be estimated."""
    if typical is None or workers < 1 or position < 1:
        return None
    all_busy = len(running_elapsed) >= workers
    first_free = max(0.0, typical - max(running_elapsed)) if all_busy and running_elapsed else 0.0
    rounds_ahead = (position - 1) // workers
    return round(first_free + rounds_ahead * typical + typical)


def recent_durations(kind: str, limit: int = SAMPLE_SIZE) -> list[float]:
    """Processing seconds of the last `limit` READY media of the kind, newest first."""
    rows = (
        Media.objects.filter(
            kind=kind, status=Status.READY, processing_started_at__isnull=False, finished_at__isnull=False
        )
        .order_by("-updated_at")  # the (status, updated_at) index; a READY row's updated_at is its finish
        .values_list("processing_started_at", "finished_at")[:limit]
    )
    return [max(0.0, (done - started).total_seconds()) for started, done in rows]


def typical_seconds(kind: str, *, use_cache: bool = True) -> float | None:
    now = time.monotonic()
    cached = _typical_cache.get(kind)
    if use_cache and cached is not None and cached[0] > now:
        return cached[1]
    durations = recent_durations(kind)
    value = statistics.median(durations) if durations else None
    _typical_cache[kind] = (now + CACHE_SECONDS, value)
    return value


@lru_cache(maxsize=8)
def _queue(name: str) -> Queue:
    # One client per process: django_rq builds a new connection pool on every get_queue call.
    return django_rq.get_queue(name)


def _queue_snapshot(queue: Queue, job_ids: Sequence[str]) -> tuple[list[int | None], int, list[str]]:
    """Positions (0-based) of the jobs, the number of workers serving the queue and the running job ids."""
    registry = StartedJobRegistry(queue.name, connection=queue.connection)
    with queue.connection.pipeline(transaction=False) as pipe:
        for job_id in job_ids:
            pipe.lpos(queue.key, job_id, maxlen=SCAN_LIMIT)
        pipe.scard(WORKERS_BY_QUEUE_KEY % queue.name)
        pipe.zrange(registry.key, 0, 63)  # running jobs: about one per worker
        *positions, workers, running = pipe.execute()
    return positions, int(workers), [StartedJobRegistry.parse_job_id(entry) for entry in running]


def _elapsed(job_ids: Iterable[str]) -> list[float]:
    media_ids = [job_id.removeprefix("media-") for job_id in job_ids if job_id.startswith("media-")]
    if not media_ids:
        return []
    now = timezone.now()
    started = Media.objects.filter(pk__in=media_ids, processing_started_at__isnull=False).values_list(
        "processing_started_at", flat=True
    )
    return [(now - at).total_seconds() for at in started]


def placements(media: Iterable[Media]) -> dict[str, Placement]:
    """Queue placement of every given media that waits in its queue, by media id."""
    by_queue: dict[str, list[Media]] = {}
    for item in media:
        if item.status == Status.PROCESSING and item.stage == QUEUED_STAGE and item.kind in jobs.QUEUE_OF:
            by_queue.setdefault(jobs.QUEUE_OF[item.kind], []).append(item)
    found: dict[str, Placement] = {}
    for name, waiting in by_queue.items():
        queue = _queue(name)
        positions, workers, running = _queue_snapshot(queue, [jobs.job_id(m.id) for m in waiting])
        elapsed = _elapsed(running)
        for item, index in zip(waiting, positions, strict=True):
            if index is None:
                continue
            position = int(index) + 1
            eta = estimate_seconds(
                position=position, typical=typical_seconds(item.kind), workers=workers, running_elapsed=elapsed
            )
            found[str(item.id)] = Placement(position=position, eta_seconds=eta)
    return found
