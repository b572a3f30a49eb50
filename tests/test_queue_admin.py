"""The admin's queue page on real queues and real worker processes: counts and workers with their current job,
requeue of a FAILED media's job (it is processed again, as a retry), empty (nothing lost), pause and resume."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta

import django_rq
import pytest
from botocore.exceptions import ClientError
from rq import Worker

from media import maintenance, queue_control, storage
from media.models import Media, Status
from tests.api_flow import run_worker
from tests.helpers import clear_queue, start_worker, wait_for
from tests.test_worker import queue_images

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
PAGE = "/admin/queues/"


@pytest.fixture
def moderator(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("mod", "mod@example.com", "pw"))
    return client


@pytest.fixture
def images() -> Iterator[object]:
    queue = django_rq.get_queue("images", commit_mode="auto")
    clear_queue(queue)
    queue_control.queue_resume(name="images")
    yield queue
    queue_control.queue_resume(name="images")
    clear_queue(queue)


@pytest.fixture
def worker_process(images) -> Iterator[subprocess.Popen]:
    proc = start_worker("images")
    assert wait_for(lambda: Worker.count(queue=images) == 1, timeout=60)
    yield proc
    proc.terminate()
    proc.wait(timeout=60)


def post(client, **data: str):
    return client.post(PAGE, data, follow=True)


def test_page_shows_counts_and_each_worker_with_its_job(moderator, images, worker_process) -> None:
    images.enqueue(time.sleep, 4, description="a long job")
    assert wait_for(lambda: images.started_job_registry.count == 1, timeout=30)
    page = moderator.get(PAGE)
    assert page.status_code == 200
    html = page.content.decode()
    assert '<tr data-queue="images">' in html and '<td data-state="started">1</td>' in html
    assert "a long job" in html  # what the worker is doing
    worker = Worker.all(queue=images)[0]
    assert worker.name in html


def test_page_needs_staff(client, user) -> None:
    client.force_login(user)
    assert client.get(PAGE).status_code == 302  # to the admin login
    assert client.post(PAGE, {"action": "pause", "queue": "images"}).status_code == 302
    assert "images" not in queue_control.paused_names()


def test_requeue_of_a_failed_media_job_processes_it_again(api, moderator, images, settings, monkeypatch) -> None:
    settings.JOB_MAX_RETRIES, settings.JOB_RETRY_INTERVALS = 1, [0]  # one burst sees both attempts
    (media_id,) = queue_images(api, 1)

    def broken_upload(*args, **kwargs):  # fault injection: the store refuses every write (an outage would wait)
        error = {"Error": {"Code": "AccessDenied", "Message": "denied"}, "ResponseMetadata": {"HTTPStatusCode": 403}}
        raise ClientError(error, "PutObject")

    with monkeypatch.context() as patched:
        patched.setattr(storage, "upload", broken_upload)
        run_worker(images)
    assert Media.objects.get(pk=media_id).status == Status.FAILED
    assert images.failed_job_registry.get_job_ids() == [f"media-{media_id}"]
    page = moderator.get(PAGE).content.decode()
    assert f'value="media-{media_id}"' in page

    answer = post(moderator, action="requeue", queue="images", job_id=f"media-{media_id}")
    assert "queued again" in answer.content.decode()
    assert Media.objects.get(pk=media_id).status == Status.PROCESSING
    assert images.failed_job_registry.count == 0 and images.count == 1
    run_worker(images)
    assert Media.objects.get(pk=media_id).status == Status.READY
    # a second requeue of the same job finds no failed job: nothing happens
    answer = post(moderator, action="requeue", queue="images", job_id=f"media-{media_id}")
    assert "is no failed job of images" in answer.content.decode()


def test_empty_drops_waiting_jobs_and_their_media_are_resumed(api, moderator, images) -> None:
    ids = queue_images(api, 2)
    assert images.count == 2
    answer = post(moderator, action="empty", queue="images")
    assert "2 waiting jobs dropped" in answer.content.decode()
    assert images.count == 0
    assert Media.objects.filter(pk__in=ids, status=Status.PROCESSING).count() == 2
    report = maintenance.resume_stalled(older_than=timedelta(0))
    assert sorted(report.actions["requeue"]) == sorted(ids)
    run_worker(images)
    assert Media.objects.filter(pk__in=ids, status=Status.READY).count() == 2


def test_pause_and_resume_a_queue_with_a_running_worker(api, moderator, images, worker_process) -> None:
    answer = post(moderator, action="pause", queue="images")
    assert "Queue images paused" in answer.content.decode()
    assert 'value="resume"' in answer.content.decode()
    ids = queue_images(api, 2)
    time.sleep(5)  # the worker looks at its queues at least every 2 s
    assert images.count == 2
    assert Media.objects.filter(pk__in=ids, status=Status.PROCESSING).count() == 2
    answer = post(moderator, action="resume", queue="images")
    assert "Queue images resumed" in answer.content.decode()
    assert wait_for(lambda: Media.objects.filter(pk__in=ids, status=Status.READY).count() == 2)


def test_unknown_queue_or_action_is_refused(moderator) -> None:
    assert "No queue named" in post(moderator, action="pause", queue="nope").content.decode()
    assert "Unknown action" in post(moderator, action="explode", queue="images").content.decode()
