"""Confirm under pressure: two confirms racing on one media (real threads on PostgreSQL), and a
scanner outage during confirm from which the media resumes without losing anything."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import django_rq
import pytest
from django.db import connection, connections
from django.test import override_settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from rq import SimpleWorker
from rq.job import Job

from media import jobs, maintenance
from media.models import Media, Status
from processing import scan
from tests import samples
from tests.api_flow import NOTHING, confirm, drop_job, keys_of, stored_pdf, uploaded
from tests.samples import Sample

needs_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the race needs real concurrent transactions: set DATABASE_URL to PostgreSQL (CI does)",
)


def _race(token: str, media_id: str, contenders: int = 2) -> list[int]:
    """`contenders` clients confirm the same media at the same moment; their status codes."""
    barrier = threading.Barrier(contenders)
    codes: list[int] = []

    def contend() -> None:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        try:
            barrier.wait()
            codes.append(confirm(client, media_id).status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=contend) for _ in range(contenders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return codes


@pytest.fixture
def count_enqueues(monkeypatch) -> Iterator[list[str]]:
    """Records every call of the real enqueue (a spy: it still queues)."""
    calls: list[str] = []
    real = jobs.enqueue_now

    def spy(media_id: object, kind: str) -> bool:
        calls.append(str(media_id))
        return real(media_id, kind)

    monkeypatch.setattr(jobs, "enqueue_now", spy)
    yield calls


@needs_postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_", range(3))
def test_two_concurrent_confirms_of_a_document_run_the_inline_path_once(api, user, round_: int) -> None:
    created = uploaded(api, samples.document_samples()[0])
    codes = _race(Token.objects.get(user=user).key, created["id"])
    media = Media.objects.get(pk=created["id"])
    assert media.status == Status.READY
    assert media.attempts == 1  # begin_attempt counts every run of the pipeline
    assert sorted(codes) in ([200, 200], [200, 202])  # the loser answers the state it found
    assert keys_of(created["id"]) == stored_pdf(created["id"])
    assert not Job.exists(jobs.job_id(created["id"]), connection=django_rq.get_queue("default").connection)


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_confirms_of_an_image_enqueue_exactly_one_job(api, user, count_enqueues: list[str]) -> None:
    created = uploaded(api, Sample("png", "dot.png", "image/png", samples.png(), "png"))
    queue = django_rq.get_queue("images")
    job_id = jobs.job_id(created["id"])
    try:
        codes = _race(Token.objects.get(user=user).key, created["id"], contenders=4)
        assert codes == [202] * 4
        assert count_enqueues == [created["id"]]
        assert queue.job_ids.count(job_id) == 1
        media = Media.objects.get(pk=created["id"])
        assert media.status == Status.PROCESSING and media.attempts == 0  # the worker's to run
    finally:
        drop_job(created["id"])


# --- clamd unreachable ---------------------------------------------------------------------------


@contextmanager
def clamd_unreachable() -> Iterator[None]:
    """FAULT INJECTION: clamd is made unreachable by pointing the client at a closed port (the real
    clamd cannot be stopped on demand without breaking every other test run that shares it)."""
    scan.breaker.close()  # the breaker remembers failures across tests; start and end closed
    try:
        with override_settings(CLAMD_PORT=1):
            yield
    finally:
        scan.breaker.close()


@pytest.fixture
def default_queue(settings):
    """The queue of inline-path retries, with retries due at once so a burst worker runs them."""
    settings.JOB_RETRY_INTERVALS = [0]
    return django_rq.get_queue("default")


def _work(queue) -> None:
    SimpleWorker([queue], connection=queue.connection).work(burst=True)


def _resume() -> dict[str, list[str]]:
    return maintenance.resume_stalled(older_than=timedelta(0)).actions


@pytest.mark.django_db
def test_with_clamd_down_a_document_waits_and_the_queued_retry_makes_it_ready(api, default_queue) -> None:
    created = uploaded(api, samples.document_samples()[0])
    media_id = created["id"]
    job_id = jobs.job_id(media_id)
    with clamd_unreachable():
        answer = confirm(api, media_id)
        assert answer.status_code == 503 and int(answer["Retry-After"]) > 0
        body = answer.json()
        assert body["status"] == Status.PROCESSING and body["error"]["code"] == "scan_unavailable"
        assert "as soon as it is back" in body["error"]["message"]
        assert keys_of(media_id) == {**NOTHING, "temp": [f"temp/{media_id}"]}  # nothing is lost
        assert default_queue.job_ids.count(job_id) == 1  # the retry is already queued
        again = confirm(api, media_id)  # the client asks again: the current state, no second run
        assert again.status_code == 202 and again.json()["error"]["code"] == "scan_unavailable"
        assert Media.objects.get(pk=media_id).attempts == 1
        assert default_queue.job_ids.count(job_id) == 1
    # clamd is back: the queued job runs
    _work(default_queue)
    media = Media.objects.get(pk=media_id)
    assert media.status == Status.READY and media.attempts == 2 and media.error is None
    assert keys_of(media_id) == stored_pdf(media_id)
    drop_job(media_id)


def _resume() -> dict[str, list[str]]:
    return maintenance.resume_stalled(older_than=timedelta(0)).actions


@pytest.mark.django_db
def test_a_clamd_outage_longer_than_the_retries_never_fails_the_document(api, default_queue, settings) -> None:
    settings.JOB_MAX_RETRIES = 1
    created = uploaded(api, samples.document_samples()[-2])
    media_id = created["id"]
    with clamd_unreachable():
        assert confirm(api, media_id).status_code == 503
        _work(default_queue)  # the queued job and its one retry both find clamd down: it waits, not FAILED
        media = Media.objects.get(pk=media_id)
        assert media.status == Status.PROCESSING and media.error_code == "scan_unavailable"
        assert "as soon as it is back" in media.error_message
        for _ in range(3):  # maintenance looks again and again while clamd stays down, and waits
            assert _resume() == {"wait for clamd": [media_id]}
        assert Media.objects.get(pk=media_id).status == Status.PROCESSING
    assert keys_of(media_id) == {**NOTHING, "temp": [f"temp/{media_id}"]}  # nothing lost
    assert _resume() == {"requeue": [media_id]}  # clamd answers again
    _work(default_queue)
    media = Media.objects.get(pk=media_id)
    assert media.status == Status.READY and media.attempts == 4 and media.error is None
    assert keys_of(media_id) == {**NOTHING, "permanent": [f"permanent/{media_id}/original.txt"]}
    drop_job(media_id)


@pytest.mark.django_db
def test_with_the_store_down_confirm_answers_503_and_the_media_waits(api, monkeypatch) -> None:
    from botocore.exceptions import EndpointConnectionError

    from media import storage

    sample = samples.document_samples()[-1]
    media = uploaded(api, sample)

    def unreachable(key: str) -> None:  # fault injection: the S3 endpoint does not answer
        raise EndpointConnectionError(endpoint_url="http://s3.invalid")

    monkeypatch.setattr(storage, "head", unreachable)
    answer = confirm(api, media["id"])
    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "storage_unavailable"
    assert answer["Retry-After"] == "30"
    assert Media.objects.get(pk=media["id"]).status == Status.PENDING  # nothing lost: confirm again later

    monkeypatch.undo()
    assert confirm(api, media["id"]).status_code == 200
