"""The lifecycle: every allowed and forbidden move, and races of which exactly one caller wins."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections

from media import lifecycle
from media.models import Kind, Media, Status

ALL = list(Status)
MOVES = [(source, target) for source in ALL for target in ALL]


def make(user, status: Status) -> Media:
    return Media.objects.create(
        owner=user, kind=Kind.IMAGE, status=status, filename="a.jpg", content_type="image/jpeg", size=10
    )


@pytest.mark.django_db
@pytest.mark.parametrize(("source", "target"), MOVES, ids=[f"{s}->{t}" for s, t in MOVES])
def test_every_move(user, source: Status, target: Status) -> None:
    media = make(user, source)
    allowed = target in lifecycle.ALLOWED[source]
    if not lifecycle.sources_of(target):  # nothing may ever move into PENDING
        with pytest.raises(lifecycle.TransitionNotAllowed):
            lifecycle.transition(media.id, to=target)
        assert Media.objects.get(pk=media.id).status == source
        return
    won = lifecycle.transition(media.id, to=target)
    media.refresh_from_db()
    if allowed:
        assert won is not None and won.status == target
        assert media.status == target
    else:
        assert won is None
        assert media.status == source


@pytest.mark.django_db
def test_asking_for_a_forbidden_source_explicitly_is_a_bug(user) -> None:
    media = make(user, Status.READY)
    with pytest.raises(lifecycle.TransitionNotAllowed):
        lifecycle.transition(media.id, to=Status.PROCESSING, sources=[Status.READY])


@pytest.mark.django_db
def test_ready_sets_progress_and_clears_the_error(user) -> None:
    media = make(user, Status.PROCESSING)
    lifecycle.note_problem(media.id, code="scan_unavailable", message="later")
    ready = lifecycle.mark_ready(media.id, original_key="permanent/x/original.jpg")
    assert ready.progress == 100 and ready.error is None and ready.finished_at is not None
    assert ready.original_key == "permanent/x/original.jpg"


@pytest.mark.django_db
def test_rejected_keeps_code_message_and_detail(user) -> None:
    media = make(user, Status.PROCESSING)
    rejected = lifecycle.mark_rejected(media.id, code="corrupt_file", message="Broken.", detail="trace")
    assert rejected.error == {"code": "corrupt_file", "message": "Broken."}
    assert rejected.error_detail == "trace"


@pytest.mark.django_db
def test_progress_only_rises_and_only_while_processing(user) -> None:
    media = make(user, Status.PROCESSING)
    assert lifecycle.set_progress(media.id, 40, "thumbnail")
    assert not lifecycle.set_progress(media.id, 20, "downloading")
    media.refresh_from_db()
    assert (media.progress, media.stage) == (40, "thumbnail")
    assert lifecycle.set_progress(media.id, 100, "uploading")  # 100 is kept for READY
    media.refresh_from_db()
    assert media.progress == 99
    lifecycle.mark_ready(media.id)
    assert not lifecycle.set_progress(media.id, 99, "late")


@pytest.mark.django_db
def test_a_job_for_a_media_no_longer_processing_does_not_start(user) -> None:
    media = make(user, Status.READY)
    assert lifecycle.begin_attempt(media.id) is None
    processing = make(user, Status.PROCESSING)
    assert lifecycle.begin_attempt(processing.id).attempts == 1


def _race(media_id, target: Status, contenders: int) -> list[bool]:
    barrier = threading.Barrier(contenders)
    results: list[bool] = []

    def contend() -> None:
        try:
            barrier.wait()
            results.append(lifecycle.transition(media_id, to=target) is not None)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=contend) for _ in range(contenders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("source", "target"), [(Status.PENDING, Status.PROCESSING), (Status.PROCESSING, Status.READY)])
def test_racing_transitions_exactly_one_wins(user, source: Status, target: Status) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the race needs real concurrent transactions: set DATABASE_URL to PostgreSQL (CI does)")
    for _ in range(5):
        media = make(user, source)
        assert sorted(_race(media.id, target, contenders=8)) == [False] * 7 + [True]
        assert Media.objects.get(pk=media.id).status == target


@pytest.mark.django_db(transaction=True)
def test_racing_different_targets_exactly_one_wins(user) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the race needs real concurrent transactions: set DATABASE_URL to PostgreSQL (CI does)")
    media = make(user, Status.PROCESSING)
    barrier = threading.Barrier(2)
    outcome: dict[str, bool] = {}

    def contend(name: str, move) -> None:
        try:
            barrier.wait()
            outcome[name] = move() is not None
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=contend, args=("ready", lambda: lifecycle.mark_ready(media.id))),
        threading.Thread(
            target=contend,
            args=("failed", lambda: lifecycle.mark_failed(media.id, code="processing_failed", message="x")),
        ),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcome.values()) == [False, True]
    final = Media.objects.get(pk=media.id).status
    assert final == (Status.READY if outcome["ready"] else Status.FAILED)
