"""Deleting a user removes every stored object of their media (quarantined files too) from the real
bucket: inline for a small account, in background jobs for a large one; and `purge_orphans` finds what
accounts deleted earlier left behind."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import django_rq
import pytest
from django.core.management import call_command

from media import maintenance, storage
from media.models import Kind, Media, Status
from tests import image_samples
from tests.api_flow import confirm, run_worker, uploaded
from tests.helpers import clear_queue
from tests.samples import Sample
from tests.test_metrics_admin import make

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def objects_of(user_media: list[str]) -> list[str]:
    keys = []
    for media_id in user_media:
        for prefix in (f"temp/{media_id}", f"permanent/{media_id}/", f"quarantine/{media_id}"):
            keys += storage.list_keys(prefix)
    return keys


def account_with_objects(api, user, tmp_path) -> list[str]:
    """A READY image made by the real pipeline, a quarantined file and an upload never confirmed."""
    queue = django_rq.get_queue("images")
    clear_queue(queue)
    photo = uploaded(api, Sample("photo", "photo.jpg", "image/jpeg", image_samples.jpeg(), "jpg"))
    assert confirm(api, photo["id"]).status_code == 202
    run_worker(queue)
    assert Media.objects.get(pk=photo["id"]).status == Status.READY
    waiting = uploaded(api, Sample("later", "later.jpg", "image/jpeg", image_samples.jpeg(), "jpg"))
    infected = make(user, Status.REJECTED, kind=Kind.DOCUMENT, quarantine_key="")
    body = tmp_path / "eicar"
    body.write_bytes(b"not really")
    storage.upload(body, f"quarantine/{infected.id}", content_type="application/octet-stream")
    ids = [photo["id"], waiting["id"], str(infected.id)]
    assert len(objects_of(ids)) >= 4  # original, renditions, temp upload, quarantined file
    return ids


def test_deleting_a_user_removes_their_objects(api, user, tmp_path) -> None:
    ids = account_with_objects(api, user, tmp_path)
    user.delete()
    assert Media.objects.filter(pk__in=ids).count() == 0
    assert objects_of(ids) == []


def test_a_large_account_is_cleared_by_background_jobs(api, user, tmp_path, settings) -> None:
    settings.USER_PURGE_BATCH = 2  # three media: two jobs
    ids = account_with_objects(api, user, tmp_path)
    default = django_rq.get_queue("default")
    clear_queue(default)
    user.delete()
    assert default.count == 2
    assert objects_of(ids) != []  # nothing removed while the request ran
    run_worker(default)
    assert objects_of(ids) == []
    assert default.failed_job_registry.count == 0


def test_purge_orphans_finds_what_an_earlier_deletion_left(api, user, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(maintenance, "ORPHAN_GRACE", timedelta(0))
    # earlier tests of the run leave orphans in the shared bucket (their rows are flushed, their objects
    # stay): cleared first, so the report's first 20 items per action are this test's
    call_command("purge_orphans", "--for-real", stdout=StringIO())
    ids = account_with_objects(api, user, tmp_path)
    Media.objects.filter(owner=user).delete()  # as deleting a user did before: rows gone, objects kept
    left = objects_of(ids)
    out = StringIO()
    call_command("purge_orphans", stdout=out)
    assert "would delete orphan permanent object" in out.getvalue()
    assert f"  quarantine/{ids[2]}" in out.getvalue()
    assert "dry run: nothing was changed" in out.getvalue()
    assert objects_of(ids) == left
    call_command("purge_orphans", "--for-real", stdout=StringIO())
    # temp/ strays are purge_old's (after PENDING_TTL_HOURS); everything else is gone
    assert objects_of(ids) == [f"temp/{ids[1]}"]
    storage.delete([f"temp/{ids[1]}"])
