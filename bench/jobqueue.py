"""Throughput of the `images` queue, beside the queue's own cost per job, in the same run.

    .venv/bin/python bench/jobqueue.py              # 40 jobs of each kind, 2 workers, both worker classes
    .venv/bin/python bench/jobqueue.py --jobs 100 --workers 2

For each RQ worker class (the forking `Worker`, which runs every job in a
fresh child process, and `SimpleWorker`, which runs it in the worker itself),
two real `manage.py rqworker images` processes are started, then:

- trivial jobs (`time.sleep(0)`) measure what the queue itself costs per job:
  dequeue, bookkeeping in Redis, and the fork where there is one;
- image jobs run the real pipeline on a 1 MP photo: download from the S3
  store, sniff, decode, thumbnail + optimized WebP, upload, READY.

CPU is the workers' own user+system time plus their reaped children's, read
from /proc before and after each batch, divided by the jobs. The local stack
is started if it is not running (a bucket, a Redis database and a SQLite file
of the bench's own, unless DATABASE_URL is set). It only prints figures.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
WORKER_CLASSES = {
    "forking Worker": "rq.worker.Worker",
    "SimpleWorker": "rq.worker.SimpleWorker",
    # the SimpleWorker with a heartbeat thread and Redis-outage handling (media/worker.py): `make run`'s
    "MediahubWorker": "media.worker.MediahubWorker",
}
CLOCK = os.sysconf("SC_CLK_TCK")


def configure() -> None:
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
    os.environ.setdefault("S3_BUCKET", "bench-queue")
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{OUT / 'queue.sqlite3'}")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mediahub.settings")
    os.environ["LOG_LEVEL"] = "WARNING"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime + cutime + cstime of the processes (children they reaped included)."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += sum(int(x) for x in fields[11:15])
    return total / CLOCK


def start_workers(count: int, worker_class: str) -> list[subprocess.Popen]:
    workers = [
        subprocess.Popen(
            [sys.executable, "manage.py", "rqworker", "images", "--worker-class", worker_class],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(count)
    ]
    import django_rq
    from rq import Worker

    deadline = time.monotonic() + 60
    while Worker.count(queue=django_rq.get_queue("images")) < count:
        if time.monotonic() > deadline:
            raise RuntimeError("the workers did not start")
        time.sleep(0.2)
    time.sleep(1)  # let them finish their start-up work (registry cleaning) before measuring
    return workers


def stop_workers(workers: list[subprocess.Popen]) -> None:
    for worker in workers:
        worker.terminate()
    for worker in workers:
        worker.wait(timeout=30)


def trivial_batch(jobs: int, pids: list[int]) -> tuple[float, float]:
    import django_rq

    queue = django_rq.get_queue("images", commit_mode="auto")
    finished = queue.finished_job_registry
    before = finished.count
    cpu, started = cpu_seconds(pids), time.monotonic()
    for _ in range(jobs):
        queue.enqueue("time.sleep", 0, result_ttl=600)
    while finished.count < before + jobs:
        time.sleep(0.02)
    return time.monotonic() - started, cpu_seconds(pids) - cpu


def image_batch(jobs: int, pids: list[int], photo: bytes, owner) -> tuple[float, float]:
    from media import jobs as job_layer
    from media import storage
    from media.models import Kind, Media, Status

    batch = []
    for _ in range(jobs):
        media = Media.objects.create(
            owner=owner, kind=Kind.IMAGE, status=Status.PROCESSING, filename="p.jpg",
            content_type="image/jpeg", size=len(photo),
        )  # fmt: skip
        storage.client().put_object(Bucket=storage.bucket_name(), Key=media.temp_key, Body=photo)
        batch.append(media.id)
    cpu, started = cpu_seconds(pids), time.monotonic()
    for media_id in batch:
        job_layer.enqueue_now(media_id, Kind.IMAGE)
    while Media.objects.filter(pk__in=batch, status=Status.PROCESSING).exists():
        time.sleep(0.05)
    took, used = time.monotonic() - started, cpu_seconds(pids) - cpu
    not_ready = Media.objects.filter(pk__in=batch).exclude(status=Status.READY).count()
    if not_ready:
        raise RuntimeError(f"{not_ready} images did not become READY")
    return took, used


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=40, help="jobs of each kind per worker class")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    configure()

    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from bench.images import make_inputs
    from media import storage
    from mediahub import devstack

    started = devstack.up(log=lambda line: print(line, file=sys.stderr))
    try:
        storage.ensure_bucket()
        call_command("migrate", verbosity=0)
        owner, _ = get_user_model().objects.get_or_create(username="bench-queue")
        photo = make_inputs(["1mp.jpg"])["1mp.jpg"].read_bytes()
        rows = []
        for label, worker_class in WORKER_CLASSES.items():
            print(f"{label}: {args.workers} workers, {args.jobs} trivial and {args.jobs} image jobs", file=sys.stderr)
            workers = start_workers(args.workers, worker_class)
            pids = [w.pid for w in workers]
            try:
                trivial_batch(5, pids)  # warm-up
                t_wall, t_cpu = trivial_batch(args.jobs, pids)
                i_wall, i_cpu = image_batch(args.jobs, pids, photo, owner)
            finally:
                stop_workers(workers)
            rows.append((label, t_wall, t_cpu, i_wall, i_cpu))
    finally:
        devstack.stop(started)

    n = args.jobs
    print(f"\n`images` queue, {args.workers} workers, {n} jobs per batch, 1 MP JPEG ({len(photo) // 1024} KB)\n")
    print("| worker class | queue CPU ms/job | image job CPU ms/job | queue / image | images/s | trivial jobs/s |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, t_wall, t_cpu, i_wall, i_cpu in rows:
        queue_ms, image_ms = 1000 * t_cpu / n, 1000 * i_cpu / n
        print(
            f"| {label} | {queue_ms:.1f} | {image_ms:.0f} | {queue_ms / image_ms:.1%} "
            f"| {n / i_wall:.1f} | {n / t_wall:.0f} |"
        )


if __name__ == "__main__":
    main()
