"""MediahubWorker in real worker processes: it recycles mid-batch with nothing lost, and a paused queue's
jobs wait while its workers take no new ones."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import django_rq
import pytest
from django.conf import settings
from rq import Worker

from media import queue_control
from media.models import Media, Status
from media.worker import EXIT_RECYCLE
from mediahub import devstack
from tests import image_samples
from tests.api_flow import confirm, uploaded
from tests.helpers import ROOT, child_env, clear_queue, start_worker, wait_for
from tests.samples import Sample

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def images_queue() -> Iterator[object]:
    queue = django_rq.get_queue("images")
    clear_queue(queue)
    queue_control.queue_resume(name="images")
    yield queue
    queue_control.queue_resume(name="images")
    clear_queue(queue)


def jpeg_sample(n: int) -> Sample:
    return Sample(f"photo-{n}", f"photo-{n}.jpg", "image/jpeg", image_samples.jpeg(64 + n, 48), "jpg")


def queue_images(api, count: int) -> list[str]:
    ids = []
    for n in range(count):
        created = uploaded(api, jpeg_sample(n))
        assert confirm(api, created["id"]).status_code == 202
        ids.append(created["id"])
    return ids


def test_worker_recycles_mid_batch_and_every_media_is_ready(api, images_queue) -> None:
    # registrations of workers killed without leaving (by an earlier run) linger until their TTL
    earlier = {worker.name for worker in Worker.all(queue=images_queue)}
    ids = queue_images(api, 5)
    assert images_queue.count == 5
    # the worker under supervisord, as `make run` starts it: each worker takes 2 jobs, then exits 75 and
    # supervisord starts a fresh one, until the queue is empty and the last one idles
    label = f"test-recycle-{os.getpid()}"
    conf = devstack.RUN_DIR / f"{label}.conf"
    conf.write_text(devstack.supervisor_conf({"worker": f"{sys.executable} manage.py rqworker images"}, label))
    supervisord = shutil.which("supervisord") or str(Path(sys.executable).parent / "supervisord")
    proc = subprocess.Popen(
        [supervisord, "-c", str(conf)],
        cwd=ROOT,
        env=child_env(WORKER_MAX_JOBS="2"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        done = wait_for(lambda: Media.objects.filter(pk__in=ids, status=Status.READY).count() == len(ids))
    finally:
        proc.send_signal(signal.SIGTERM)  # supervisord stops its worker, which finishes what it runs
        output, _ = proc.communicate(timeout=30)
        conf.unlink(missing_ok=True)
    assert done, output[-3000:]
    assert output.count("recycling (2 jobs done)") == 2, output[-3000:]  # after jobs 2 and 4
    assert proc.returncode == 0, output[-3000:]
    assert images_queue.count == 0
    assert images_queue.failed_job_registry.count == 0
    assert {w.name for w in Worker.all(queue=images_queue)} <= earlier  # every recycled worker deregistered


@pytest.mark.parametrize(
    ("limits", "reason"),
    [
        ({"WORKER_MAX_JOBS": "1"}, "recycling (1 jobs done)"),
        ({"WORKER_MAX_JOBS": "0", "WORKER_MAX_MEMORY_MB": "1"}, "recycling (memory peaked at"),
    ],
)
def test_a_worker_alone_exits_with_the_recycle_code(api, images_queue, limits, reason) -> None:
    ids = queue_images(api, 2)
    result = subprocess.run(
        [sys.executable, "manage.py", "rqworker", "images"],
        cwd=ROOT,
        env=child_env(**limits),
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert result.returncode == EXIT_RECYCLE, result.stderr[-3000:]
    assert reason in result.stderr
    # it finished the job in hand and took no other: the second waits for the next worker
    assert Media.objects.filter(pk__in=ids, status=Status.READY).count() == 1
    assert images_queue.count == 1


def test_paused_queue_keeps_its_jobs_until_resumed(api, images_queue) -> None:
    queue_control.queue_pause(name="images")
    proc = start_worker("images")
    try:
        assert wait_for(lambda: Worker.count(queue=images_queue) >= 1, timeout=30)
        ids = queue_images(api, 2)
        time.sleep(3 * 2)  # several dequeue rounds of the worker
        assert images_queue.count == 2
        assert Media.objects.filter(pk__in=ids, status=Status.PROCESSING).count() == 2
        queue_control.queue_resume(name="images")
        assert wait_for(lambda: Media.objects.filter(pk__in=ids, status=Status.READY).count() == 2)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert settings.RQ["WORKER_CLASS"] == "media.worker.MediahubWorker"
