"""Bytes PUT again with a still-valid upload URL after the media is READY never stay in temp/."""

from __future__ import annotations

from datetime import timedelta

import django_rq
import pytest
from rq.job import Job

from media import maintenance, temp_sweep
from media.models import Media, Status
from tests import samples
from tests.api_flow import confirm, keys_of, upload, uploaded
from tests.helpers import clear_queue
from tests.samples import Sample

pytestmark = pytest.mark.django_db

TEXT = Sample("text", "notes.txt", "text/plain", samples.TEXT, "")


@pytest.fixture
def default_queue():
    queue = django_rq.get_queue("default")
    clear_queue(queue)
    yield queue
    clear_queue(queue)


def test_a_put_after_ready_is_swept_when_the_upload_url_expires(api, default_queue) -> None:
    created = uploaded(api, TEXT)
    assert confirm(api, created["id"]).json()["status"] == Status.READY
    assert keys_of(created["id"])["temp"] == []

    upload(created, samples.TEXT)  # the URL is still valid: the bytes land in temp/ again
    assert keys_of(created["id"])["temp"] == [f"temp/{created['id']}"]

    media = Media.objects.get(pk=created["id"])
    job_id = f"sweep-temp-{media.id}"
    assert job_id in default_queue.scheduled_job_registry.get_job_ids()
    scheduled = default_queue.scheduled_job_registry.get_scheduled_time(job_id)
    expires = media.created_at + timedelta(seconds=900)  # UPLOAD_URL_EXPIRY
    assert expires < scheduled <= expires + temp_sweep.MARGIN + timedelta(seconds=1)
    Job.fetch(job_id, connection=default_queue.connection).perform()  # what the scheduler runs then
    assert keys_of(created["id"])["temp"] == []
    assert temp_sweep.sweep(str(media.id)) is False  # twice is harmless


def test_the_purge_removes_a_final_medias_temp_object_at_once(api, default_queue) -> None:
    created = uploaded(api, TEXT)
    confirm(api, created["id"])
    upload(created, samples.TEXT)
    report = maintenance.purge_old()
    assert f"temp/{created['id']}" in report.actions["delete stray temp object"]
    assert keys_of(created["id"])["temp"] == []


def test_the_sweep_leaves_a_waiting_upload_alone(api) -> None:
    created = uploaded(api, TEXT)  # PENDING: its bytes wait for the confirm
    assert temp_sweep.sweep(created["id"]) is False
    assert keys_of(created["id"])["temp"] == [f"temp/{created['id']}"]
