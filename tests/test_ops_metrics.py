"""The operators' figures on /metrics: spool disk, stuck media, uploads, paused queues, events published,
and what the scheduled cleanup found and did (orphaned objects in the real bucket)."""

from __future__ import annotations

import shutil
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from media import figures, maintenance, queue_control, storage
from media.models import Kind, Media, Status
from tests.test_metrics_admin import make, samples

pytestmark = pytest.mark.django_db


def scrape(client) -> dict:
    answer = client.get("/metrics")
    assert answer.status_code == 200
    return samples(answer.content.decode())


def test_spool_stuck_uploads_and_paused_queue(client, user, settings) -> None:
    stuck = make(user, Status.PROCESSING, kind=Kind.VIDEO)
    make(user, Status.PROCESSING, kind=Kind.VIDEO)  # recent: not stuck
    Media.objects.filter(pk=stuck.pk).update(updated_at=timezone.now() - timedelta(minutes=31))
    uploaded = make(user, Status.READY, confirmed_at=timezone.now())
    Media.objects.filter(pk=uploaded.pk).update(size=1234)
    queue_control.queue_pause(name="videos")
    try:
        found = scrape(client)
    finally:
        queue_control.queue_resume(name="videos")
    assert found[("mediahub_media_stuck_processing", (("kind", "video"),))] == 1
    assert found[("mediahub_media_stuck_processing", (("kind", "image"),))] == 0
    assert found[("mediahub_uploads_last_hour", (("kind", "image"),))] == 1
    assert found[("mediahub_upload_bytes_last_hour", (("kind", "image"),))] == 1234
    assert found[("mediahub_queue_paused", (("queue", "videos"),))] == 1
    assert found[("mediahub_queue_paused", (("queue", "images"),))] == 0
    disk = shutil.disk_usage(Path(settings.SPOOL_DIR).parent)  # var/: the spool's disk here
    assert found[("mediahub_spool_size_bytes", ())] == disk.total
    assert 0 < found[("mediahub_spool_free_bytes", ())] <= disk.total


def test_events_published_are_counted(client, user) -> None:
    from media import events

    before = scrape(client)[("mediahub_events_published_total", ())]
    events.publish(make(user, Status.PROCESSING))
    events.publish(make(user, Status.PROCESSING))
    assert scrape(client)[("mediahub_events_published_total", ())] == before + 2


def orphans(found: dict, area: str, what: str = "objects") -> float:
    return found[(f"mediahub_orphan_{what}", (("area", area),))]


def test_orphan_survey_and_cleanup_figures(client, user, tmp_path) -> None:
    # the bucket is shared by the whole test run, and rolled-back tests leave objects without rows:
    # the figures are compared with a survey made just before
    maintenance.purge_orphans(dry_run=True)
    before = scrape(client)
    kept = make(user, Status.READY)
    gone = uuid.uuid4()  # a media whose row went with its owner, before deleting a user removed objects
    body = tmp_path / "b"
    body.write_bytes(b"x" * 100)
    for key in (f"permanent/{kept.id}/original.jpg", f"permanent/{gone}/original.jpg", f"quarantine/{gone}"):
        storage.upload(body, key, content_type="application/octet-stream")
    storage.upload(body, f"temp/{kept.id}", content_type="application/octet-stream")  # READY: temp is stray
    try:
        maintenance.purge_orphans(dry_run=True)
        found = scrape(client)
        assert orphans(found, "permanent") == orphans(before, "permanent") + 1
        assert orphans(found, "permanent", "bytes") == orphans(before, "permanent", "bytes") + 100
        assert orphans(found, "quarantine") == orphans(before, "quarantine") + 1
        assert orphans(found, "temp") == orphans(before, "temp") + 1
        # young orphans are left alone (a run may be writing them); old ones go when done for real
        report = maintenance.purge_orphans(dry_run=False)
        assert f"permanent/{gone}/original.jpg" not in report.actions.get("delete orphan permanent object", [])
        maintenance.ORPHAN_GRACE, grace = timedelta(0), maintenance.ORPHAN_GRACE
        try:
            report = maintenance.purge_orphans(dry_run=False)
        finally:
            maintenance.ORPHAN_GRACE = grace
        assert f"permanent/{gone}/original.jpg" in report.actions["delete orphan permanent object"]
        assert f"quarantine/{gone}" in report.actions["delete orphan quarantine object"]
        assert storage.list_keys(f"permanent/{gone}/") == [] and storage.list_keys(f"quarantine/{gone}") == []
        assert storage.list_keys(f"permanent/{kept.id}/") == [f"permanent/{kept.id}/original.jpg"]
        found = scrape(client)
        deleted = len(report.actions["delete orphan permanent object"])
        items = ("mediahub_cleanup_items", (("action", "delete orphan permanent object"), ("task", "purge_orphans")))
        assert found[items] == deleted
        assert found[("mediahub_cleanup_last_run_timestamp_seconds", (("task", "purge_orphans"),))] > 0
        maintenance.purge_orphans(dry_run=True)
        found = scrape(client)
        assert orphans(found, "permanent") == 0 and orphans(found, "quarantine") == 0  # all were old enough
        assert orphans(found, "temp") >= 1  # purge_old's to delete
    finally:
        storage.delete([f"permanent/{kept.id}/original.jpg", f"temp/{kept.id}"])
        figures._redis().delete(figures.FIGURES_KEY)
