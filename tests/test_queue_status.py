"""Queue position and the time estimate, against the real RQ queues in Redis."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import django_rq
import pytest
from django.utils import timezone
from rq import Worker
from rq.job import Job

from media import jobs, queue_status
from media.models import Kind, Media, Status


def test_estimate_with_an_idle_worker_is_one_run_per_round_ahead() -> None:
    estimate = queue_status.estimate_seconds
    assert estimate(position=1, typical=10.0, workers=1) == 10
    assert estimate(position=3, typical=10.0, workers=1) == 30
    assert estimate(position=3, typical=10.0, workers=2) == 20  # jobs 1 and 2 run together, then this one
    assert estimate(position=4, typical=10.0, workers=2) == 20


def test_estimate_waits_for_the_busy_worker_closest_to_done() -> None:
    estimate = queue_status.estimate_seconds
    assert estimate(position=1, typical=10.0, workers=1, running_elapsed=[4.0]) == 16
    assert estimate(position=1, typical=10.0, workers=2, running_elapsed=[4.0, 7.0]) == 13
    assert estimate(position=1, typical=10.0, workers=2, running_elapsed=[4.0]) == 10  # a worker is free
    assert estimate(position=1, typical=10.0, workers=1, running_elapsed=[25.0]) == 10  # overdue: no negative wait


def test_no_estimate_without_history_or_workers() -> None:
    assert queue_status.estimate_seconds(position=1, typical=None, workers=1) is None
    assert queue_status.estimate_seconds(position=1, typical=10.0, workers=0) is None


def make(owner: Any, **fields: Any) -> Media:
    fields = {"kind": Kind.IMAGE, "filename": "x.jpg", "content_type": "image/jpeg", "size": 1, **fields}
    return Media.objects.create(owner=owner, **fields)


def ready_media(owner: Any, kind: str, seconds: float) -> Media:
    finished = timezone.now()
    started = finished - timedelta(seconds=seconds)
    return make(owner, kind=kind, status=Status.READY, processing_started_at=started, finished_at=finished)


@pytest.mark.django_db
def test_typical_duration_is_the_median_of_recent_ready_media_of_the_kind(user) -> None:
    for seconds in (2, 3, 4, 100):  # one huge outlier
        ready_media(user, Kind.IMAGE, seconds)
    ready_media(user, Kind.VIDEO, 60)
    an_hour_ago = timezone.now() - timedelta(hours=1)
    make(user, status=Status.FAILED, processing_started_at=an_hour_ago, finished_at=timezone.now())
    assert queue_status.typical_seconds(Kind.IMAGE, use_cache=False) == pytest.approx(3.5, abs=0.1)
    assert queue_status.typical_seconds(Kind.VIDEO, use_cache=False) == pytest.approx(60, abs=0.1)
    assert queue_status.typical_seconds(Kind.AUDIO, use_cache=False) is None
    assert len(queue_status.recent_durations(Kind.IMAGE, limit=2)) == 2


@pytest.fixture
def queued(user) -> Iterator[list[Media]]:
    """Three waiting images, queued for real, removed from Redis afterwards."""
    media = [make(user, status=Status.PROCESSING, stage="queued") for _ in range(3)]
    for item in media:
        assert jobs.enqueue_now(item.id, item.kind)
    yield media
    connection = django_rq.get_queue("images").connection
    for item in media:
        Job.fetch(jobs.job_id(item.id), connection=connection).delete()


@pytest.mark.django_db
def test_placements_follow_the_queue_order(user, queued) -> None:
    for seconds in (10, 10, 10):
        ready_media(user, Kind.IMAGE, seconds)
    queue_status.typical_seconds(Kind.IMAGE, use_cache=False)  # refresh the per-process cache
    found = queue_status.placements(queued)
    positions = [found[str(m.id)].position for m in queued]
    first = positions[0]
    assert positions == [first, first + 1, first + 2]  # earlier leftovers of this Redis may wait ahead
    if Worker.count(queue=django_rq.get_queue("images")) == 0:
        assert all(found[str(m.id)].eta_seconds is None for m in queued)  # nobody to do the work

    # A registered worker (a real rq registration, no job taken) gives estimates that grow with the position.
    worker = Worker([django_rq.get_queue("images")], connection=django_rq.get_queue("images").connection)
    worker.register_birth()
    try:
        found = queue_status.placements(queued)
    finally:
        worker.register_death()
    etas = [found[str(m.id)].eta_seconds for m in queued]
    assert all(eta is not None for eta in etas)
    assert etas == sorted(etas) and etas[0] < etas[-1]
    assert found[str(queued[0].id)].as_event() == {"queue_position": first, "eta_seconds": etas[0]}


@pytest.mark.django_db
def test_media_not_waiting_in_a_queue_has_no_placement(user, queued) -> None:
    started = queued[0]
    started.stage = "downloading"  # a worker has it
    missing = make(user, status=Status.PROCESSING, stage="queued")  # its job is not in the queue
    pending = make(user)
    found = queue_status.placements([started, missing, pending, queued[1]])
    assert set(found) == {str(queued[1].id)}
