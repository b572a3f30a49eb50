"""Scheduled maintenance and its management commands: dry runs change nothing, real runs are safe twice."""

from __future__ import annotations

import io
from datetime import timedelta
from io import StringIO

import django_rq
import pytest
from django.core.management import call_command
from django.utils import timezone

from media import jobs, lifecycle, maintenance, storage
from media.models import Kind, Media, Status
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
