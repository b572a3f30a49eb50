"""Scheduled maintenance and its management commands: dry runs change nothing, real runs are safe twice."""

from __future__ import annotations

import io
import os
import socket
import subprocess
from datetime import timedelta
from io import StringIO

import django_rq
import pytest
from django.core.management import call_command
from django.utils import timezone

from media import jobs, lifecycle, maintenance, storage
from media.models import Kind, Media, Status
from media.worker import MediahubWorker, heartbeat_key
from tests.helpers import clear_queue, put_upload, stored_keys


def make(user, status: Status, kind: Kind = Kind.DOCUMENT, **fields) -> Media:
    return Media.objects.create(
        owner=user, kind=kind, status=status, filename="f.txt", content_type="text/plain", size=5, **fields
    )


@pytest.fixture
def queues():
    names = ("images", "videos", "default")
    for name in names:
        clear_queue(django_rq.get_queue(name))
    yield
    for name in names:
        clear_queue(django_rq.get_queue(name))


@pytest.mark.django_db
def test_unconfirmed_uploads_expire_and_their_bytes_go(user) -> None:
    old = make(user, Status.PENDING)
    Media.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=2))
    fresh = make(user, Status.PENDING)
    put_upload(storage.presigned_put(old.temp_key, content_type="text/plain", size=5), b"hello")

    assert maintenance.expire_pending(dry_run=True).actions == {"expire": [str(old.id)]}
    assert Media.objects.get(pk=old.pk).status == Status.PENDING

    assert maintenance.expire_pending().actions == {"expire": [str(old.id)]}
    old.refresh_from_db()
    assert old.status == Status.EXPIRED and old.error_code == "upload_missing"
    assert Media.objects.get(pk=fresh.pk).status == Status.PENDING
    assert stored_keys(old.temp_key) == []
    assert maintenance.expire_pending().actions == {}  # twice is harmless


@pytest.mark.django_db
def test_processing_media_whose_job_was_lost_are_queued_again(user, queues) -> None:
    lost = make(user, Status.PROCESSING, kind=Kind.IMAGE)
    Media.objects.filter(pk=lost.pk).update(updated_at=timezone.now() - timedelta(hours=1))
    recent = make(user, Status.PROCESSING, kind=Kind.IMAGE)  # may still be on its way to the queue

    report = maintenance.resume_stalled(dry_run=True)
    assert report.actions == {"requeue": [str(lost.id)]}
    assert django_rq.get_queue("images").count == 0

    maintenance.resume_stalled()
    assert django_rq.get_queue("images").get_job_ids() == [jobs.job_id(lost.id)]
    assert maintenance.resume_stalled().actions == {}  # its job is queued now
    assert jobs.job_id(recent.id) not in django_rq.get_queue("images").get_job_ids()


@pytest.mark.django_db
def test_a_job_that_failed_for_good_makes_its_media_failed(user, queues) -> None:
    media = make(user, Status.PROCESSING, kind=Kind.IMAGE)
    queue = django_rq.get_queue("images", commit_mode="auto")
    job = queue.enqueue("media.jobs.process_media", str(media.id), job_id=jobs.job_id(media.id))
    queue.remove(job)
    job.set_status("failed")  # as RQ leaves a job whose last retry failed
    Media.objects.filter(pk=media.pk).update(updated_at=timezone.now() - timedelta(hours=1))

    assert maintenance.resume_stalled().actions == {"fail": [str(media.id)]}
    media.refresh_from_db()
    assert media.status == Status.FAILED and media.error_code == "processing_failed"


@pytest.mark.django_db
def test_retention_purges_old_rejected_media_with_their_objects_and_stray_temp_objects(user, settings) -> None:
    old = make(user, Status.REJECTED, quarantine_key="")
    Media.objects.filter(pk=old.pk).update(updated_at=timezone.now() - timedelta(days=400))
    storage.upload(io.BytesIO(b"x"), f"quarantine/{old.id}", content_type="application/octet-stream")
    kept = make(user, Status.READY)
    stray = "temp/00000000-0000-0000-0000-000000000000"
    storage.upload(io.BytesIO(b"x"), stray, content_type="text/plain")
    settings.PENDING_TTL_HOURS = 0  # the stray object counts as old at once

    report = maintenance.purge_old(dry_run=True)
    assert report.actions["purge"] == [str(old.id)] and stray in report.actions["delete stray temp object"]
    assert Media.objects.filter(pk=old.pk).exists() and stored_keys(stray)

    maintenance.purge_old()
    assert not Media.objects.filter(pk=old.pk).exists()
    assert Media.objects.filter(pk=kept.pk).exists()
    assert stored_keys(f"quarantine/{old.id}") == [] and stored_keys(stray) == []


@pytest.mark.django_db
def test_cleanup_command_is_a_dry_run_unless_told(user) -> None:
    old = make(user, Status.PENDING)
    Media.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=2))
    out = StringIO()
    call_command("cleanup_media", "--only", "expire", stdout=out)
    assert "would expire: 1" in out.getvalue() and "dry run" in out.getvalue()
    assert Media.objects.get(pk=old.pk).status == Status.PENDING
    call_command("cleanup_media", "--only", "expire", "--for-real", stdout=out)
    assert Media.objects.get(pk=old.pk).status == Status.EXPIRED


@pytest.mark.django_db
def test_retry_failed_command(user, queues, django_capture_on_commit_callbacks) -> None:
    failed = make(user, Status.PROCESSING, kind=Kind.IMAGE)
    lifecycle.mark_failed(failed.id, code="processing_failed", message="x")
    out = StringIO()
    call_command("retry_failed", stdout=out)
    assert str(failed.id) in out.getvalue()
    assert Media.objects.get(pk=failed.pk).status == Status.FAILED
    with django_capture_on_commit_callbacks(execute=True):  # jobs are queued once the claim commits
        call_command("retry_failed", "--for-real", stdout=out)
    assert Media.objects.get(pk=failed.pk).status == Status.PROCESSING
    assert django_rq.get_queue("images").get_job_ids() == [jobs.job_id(failed.id)]


def _started_by_a_worker(media: Media) -> tuple[MediahubWorker, str]:
    """The media's job, taken by a worker as rq takes it (started, with the worker's heartbeat naming it)."""
    queue = django_rq.get_queue("images")
    assert jobs.enqueue_now(media.id, media.kind)
    worker = MediahubWorker([queue], connection=queue.connection)
    job = queue.dequeue_any([queue], None, connection=queue.connection)[0]
    worker.prepare_job_execution(job)
    return worker, job.id


@pytest.mark.django_db
def test_a_started_job_whose_worker_is_dead_is_queued_again_at_once(user, queues) -> None:
    media = make(user, Status.PROCESSING, kind=Kind.IMAGE, attempts=1)
    Media.objects.filter(pk=media.pk).update(updated_at=timezone.now() - timedelta(minutes=1))
    worker, job_id = _started_by_a_worker(media)
    assert maintenance.resume_stalled().actions == {}  # its worker is alive and says it runs it
    # FAULT INJECTION: the heartbeat expiring, as it does WORKER_HEARTBEAT_TTL after a SIGKILL (the real
    # kill is in tests/test_faults.py); here without waiting for the TTL
    worker.connection.delete(heartbeat_key(worker.name))
    assert maintenance.resume_stalled(dry_run=True).actions == {"requeue: its worker is dead": [str(media.id)]}
    maintenance.resume_stalled()
    queue = django_rq.get_queue("images")
    assert queue.get_job_ids() == [job_id]  # queued again, under the same id
    assert job_id not in queue.started_job_registry.get_job_ids()
    assert maintenance.resume_stalled().actions == {}  # twice is harmless


@pytest.mark.django_db
def test_a_media_whose_worker_died_in_every_attempt_ends_failed(user, queues, settings) -> None:
    media = make(user, Status.PROCESSING, kind=Kind.IMAGE, attempts=settings.STALLED_MAX_ATTEMPTS)
    Media.objects.filter(pk=media.pk).update(updated_at=timezone.now() - timedelta(minutes=1))
    worker, _ = _started_by_a_worker(media)
    worker.connection.delete(heartbeat_key(worker.name))  # FAULT INJECTION: as above
    assert maintenance.resume_stalled().actions == {"fail: its worker died in every attempt": [str(media.id)]}
    media.refresh_from_db()
    assert media.status == Status.FAILED and "each of 5 attempts" in media.error_message


@pytest.mark.django_db
def test_the_owner_can_retry_a_media_stuck_in_processing(api, user, queues, settings) -> None:
    media = make(user, Status.PROCESSING, kind=Kind.IMAGE)
    answer = api.post(f"/api/media/{media.id}/retry/")
    assert answer.status_code == 409 and answer.json()["error"]["code"] == "not_failed"  # not stuck yet
    stuck = timezone.now() - timedelta(minutes=settings.STUCK_PROCESSING_MINUTES + 1)
    Media.objects.filter(pk=media.pk).update(updated_at=stuck)
    _started_by_a_worker(media)  # started by a worker that is alive but makes no progress
    answer = api.post(f"/api/media/{media.id}/retry/")
    assert answer.status_code == 202 and answer.json()["status"] == "PROCESSING"
    assert django_rq.get_queue("images").get_job_ids() == [jobs.job_id(media.id)]
    assert api.post(f"/api/media/{media.id}/retry/").status_code == 409  # no longer stuck: one retry


def test_spool_folders_of_dead_processes_are_swept(settings, tmp_path) -> None:
    settings.SPOOL_DIR = tmp_path
    dead = subprocess.Popen(["true"])
    dead.wait()
    host = socket.gethostname()
    (tmp_path / f"{host}-{dead.pid}" / "work-x").mkdir(parents=True)
    (tmp_path / f"{host}-{dead.pid}" / "dl-y").write_bytes(b"x" * 10)
    (tmp_path / f"{host}-{os.getpid()}").mkdir()  # this process's own: alive
    (tmp_path / f"elsewhere-{dead.pid}").mkdir()  # another host's: its own to sweep
    assert maintenance.sweep_spool(dry_run=True).actions == {
        "sweep the spool of a dead process": [f"{host}-{dead.pid}"]
    }
    assert (tmp_path / f"{host}-{dead.pid}").exists()
    maintenance.sweep_spool()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([f"{host}-{os.getpid()}", f"elsewhere-{dead.pid}"])
