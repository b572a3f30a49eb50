"""Faults injected into a running `make run` stack: processes and services are really killed and restarted.

The module starts `python -m mediahub.devstack run` with a Redis, SeaweedFS and clamd of its own (their
own ports, never the machine's shared ones), a PostgreSQL database of its own, and retries shortened so
that outages outlast them. Each test drives it through the HTTP API as a client would, kills or stops
something, and then counts: every confirmed media must end final (none stuck) and nothing may be lost.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import boto3
import psycopg
import pytest
import redis
import requests
import rq
from django.conf import settings
from PIL import Image

from mediahub import devstack
from tests import samples, video_samples
from tests.helpers import put_upload

ROOT = Path(__file__).resolve().parent.parent
PORT = 18710
REDIS_PORT, S3_PORT, CLAMD_PORT = 16710, 28710, 13710
BASE = f"http://127.0.0.1:{PORT}"
FINAL = {"READY", "REJECTED", "FAILED", "EXPIRED"}

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]  # the stack's start counts in the first test


def _postgres_url(name: str) -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        pytest.skip("the fault tests run several processes against one database: set DATABASE_URL to PostgreSQL")
    parsed = urlparse(url)
    return parsed._replace(path=f"/{name}").geturl()


def _admin(url: str, sql: str) -> None:
    with psycopg.connect(urlparse(url)._replace(path="/postgres").geturl(), autocommit=True) as conn:
        conn.execute(sql)


@dataclass
class Stack:
    proc: subprocess.Popen
    env: dict[str, str]
    token: str = ""
    restarted: list[int] = field(default_factory=list)  # services this module started again itself

    # --- the API, as a client ---------------------------------------------------------------------

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Token {self.token}"} if self.token else {}
        return requests.request(method, BASE + path, headers=headers, timeout=60, **kwargs)

    def submit(self, filename: str, content_type: str, body: bytes) -> tuple[str, requests.Response]:
        """Create, upload and confirm; returns the id and confirm's answer."""
        created = self.call("POST", "/api/media/", json={"filename": filename, "content_type": content_type,
                                                          "size": len(body)})  # fmt: skip
        assert created.status_code == 201, created.text
        media = created.json()
        assert put_upload(media["upload"], body).status_code == 200
        return media["id"], self.call("POST", f"/api/media/{media['id']}/confirm/")

    def media(self, media_id: str) -> dict[str, Any]:
        answer = self.call("GET", f"/api/media/{media_id}/")
        assert answer.status_code == 200, answer.text
        return answer.json()

    def wait_for(self, media_id: str, ready: Callable[[dict[str, Any]], bool], timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            try:
                body = self.media(media_id)
                if ready(body):
                    return body
            except (requests.RequestException, AssertionError):
                body = {}
            if time.monotonic() > deadline:
                return body
            time.sleep(0.5)

    # --- its parts ----------------------------------------------------------------------------------

    def redis(self) -> redis.Redis:
        return redis.Redis(port=REDIS_PORT, socket_timeout=5)

    def s3(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=f"http://127.0.0.1:{S3_PORT}",
            aws_access_key_id=settings.AWS_ACCESS_KEY_ID,
            aws_secret_access_key=settings.AWS_SECRET_ACCESS_KEY,
            region_name="us-east-1",
        )

    def objects(self, prefix: str) -> dict[str, str]:
        """Stored objects under `prefix`: name relative to it -> SHA-256 of the bytes."""
        found = {}
        listing = self.s3().list_objects_v2(Bucket=self.env["S3_BUCKET"], Prefix=prefix)
        for item in listing.get("Contents", []):
            body = self.s3().get_object(Bucket=self.env["S3_BUCKET"], Key=item["Key"])["Body"].read()
            found[item["Key"].removeprefix(prefix)] = hashlib.sha256(body).hexdigest()
        return found

    def programs(self) -> dict[str, int]:
        """supervisord's programs and their pids (0: not running)."""
        conf = devstack.RUN_DIR / f"supervisor-{PORT}.conf"
        out = subprocess.run(
            [str(Path(sys.executable).parent / "supervisorctl"), "-c", str(conf), "status"],
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout
        programs = {}
        for line in out.splitlines():
            name, state, *rest = line.split()
            pid = rest[1].rstrip(",") if state == "RUNNING" and len(rest) > 1 else "0"
            programs[name] = int(pid)
        return programs

    def worker_running(self, job_id: str) -> int:
        """The pid of the worker whose heartbeat names this job (0 when none does yet)."""
        r = self.redis()
        for key in r.scan_iter("mediahub:worker:*"):
            if r.get(key) == job_id.encode():
                name = key.decode().removeprefix("mediahub:worker:")
                pid = r.hget(f"rq:worker:{name}", "pid")
                return int(pid) if pid else 0
        return 0

    def service(self, name: str) -> devstack.Service:
        service = {
            "redis": lambda: devstack._redis(self.env["REDIS_URL"]),
            "clamd": lambda: devstack._clamd("127.0.0.1", CLAMD_PORT),
            "seaweedfs": lambda: devstack._seaweedfs(
                self.env["S3_ENDPOINT_URL"], self.env["S3_BUCKET"], settings.AWS_ACCESS_KEY_ID,
                settings.AWS_SECRET_ACCESS_KEY,
            ),
        }[name]()  # fmt: skip
        if name == "seaweedfs":  # its own check reads this process's storage settings; the bucket is kept
            service = dataclasses.replace(service, ready=lambda: devstack._answers("127.0.0.1", S3_PORT))
        return service

    def kill(self, name: str, sig: signal.Signals = signal.SIGKILL) -> None:
        service = self.service(name)
        pid = int(service.pid_file.read_text())
        os.killpg(pid, sig)
        deadline = time.monotonic() + 30
        while not devstack._gone(pid) and time.monotonic() < deadline:
            time.sleep(0.1)

    def restart(self, name: str) -> None:
        self.restarted.append(self.service(name).start())


def _print_counts(label: str, stack: Stack, confirmed: list[str], timeout: float) -> dict[str, int]:
    """Wait until every confirmed media is final (or the timeout), then print and return the counts."""
    deadline = time.monotonic() + timeout
    states: dict[str, dict[str, Any]] = {}
    for media_id in confirmed:
        states[media_id] = stack.wait_for(
            media_id, lambda m: m["status"] in FINAL, timeout=max(1.0, deadline - time.monotonic())
        )
    lost = sum(
        1
        for media_id, body in states.items()
        if not body or (body["status"] == "READY" and not stack.objects(f"permanent/{media_id}/"))
    )
    counts = {
        "confirmed": len(confirmed),
        "READY": sum(body.get("status") == "READY" for body in states.values()),
        "FAILED": sum(body.get("status") == "FAILED" for body in states.values()),
        "stuck": sum(body.get("status") not in FINAL for body in states.values()),
        "lost": lost,
    }
    print(f"{label}: " + ", ".join(f"{name} {count}" for name, count in counts.items()))
    return counts


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if not all(map(devstack.shutil.which, ("redis-server", "clamd"))) and not Path("/usr/sbin/clamd").exists():
        pytest.skip("needs redis-server and clamd to start services of its own")
    database = f"faults_{uuid.uuid4().hex[:8]}"
    db_url = _postgres_url(database)
    _admin(db_url, f"CREATE DATABASE {database}")
    spool = tmp_path_factory.mktemp("spool")
    env = {
        **os.environ,
        "PORT": str(PORT),
        "DATABASE_URL": db_url,
        "REDIS_URL": f"redis://127.0.0.1:{REDIS_PORT}/0",
        "S3_ENDPOINT_URL": f"http://127.0.0.1:{S3_PORT}",
        "S3_BUCKET": "faults",
        "CLAMD_PORT": str(CLAMD_PORT),
        "SPOOL_DIR": str(spool),
        # retries that an outage of half a minute outlasts: what happens after them is under test
        "JOB_MAX_RETRIES": "2",
        "JOB_RETRY_INTERVALS": "5,10",
        "LOG_LEVEL": "WARNING",
        "PROGRESS_MIN_INTERVAL": "0",  # every stage is recorded: the kills wait for one mid-job
    }
    log = open(tmp_path_factory.mktemp("stack") / "stack.log", "w+")  # noqa: SIM115 - read at the end
    proc = subprocess.Popen(
        [sys.executable, "-m", "mediahub.devstack", "run"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    stack = Stack(proc, env)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            assert proc.poll() is None, "the stack exited"
            try:
                answer = requests.post(
                    BASE + "/api/auth/token/", data={"username": "demo", "password": "demo"}, timeout=5
                )
                if answer.status_code == 200:
                    stack.token = answer.json()["token"]
                    break
            except requests.RequestException:
                pass
            time.sleep(1)
        assert stack.token, "the stack did not come up"
        deadline = time.monotonic() + 60  # the workers and the scheduler
        while len([pid for pid in stack.programs().values() if pid]) < 4 and time.monotonic() < deadline:
            time.sleep(1)
        stack.spool = spool  # type: ignore[attr-defined]
        yield stack
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(90)
        except subprocess.TimeoutExpired:
            proc.kill()
        devstack.stop(stack.restarted)  # and their pid files
        log.seek(0)
        print(log.read()[-4000:])
        _admin(db_url, f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


def _jpeg(width: int = 4000, height: int = 3000) -> bytes:
    """A photo big enough that making its renditions takes a few seconds: time to kill its worker."""
    buffer = io.BytesIO()
    picture = Image.effect_mandelbrot((width, height), (-2, -1.2, 1, 1.2), 100).convert("RGB")
    picture.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def _clip() -> bytes:
    return video_samples._clip(".mp4", size="1280x720", seconds=20, rate=25)


def _kill_mid_job(stack: Stack, filename: str, content_type: str, body: bytes, stages: set[str]) -> None:
    """Submit, SIGKILL the worker running it once it is in one of `stages`, then count."""
    before = stack.programs()
    media_id, confirmed = stack.submit(filename, content_type, body)
    assert confirmed.status_code == 202, confirmed.text
    busy = stack.wait_for(media_id, lambda m: m["stage"] in stages or m["status"] in FINAL, timeout=120)
    assert busy["status"] == "PROCESSING", f"it finished before it could be killed: {busy}"
    pid = stack.worker_running(f"media-{media_id}")
    assert pid in before.values(), (pid, before)
    killed_at = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    # supervisord starts the worker again; the job is queued again once its heartbeat is gone
    counts = _print_counts(f"SIGKILL of a worker mid-{content_type}", stack, [media_id], timeout=150)
    print(f"READY {time.monotonic() - killed_at:.0f} s after the kill")
    assert counts["stuck"] == 0 and counts["lost"] == 0 and counts["READY"] == 1
    after = stack.programs()
    assert all(after.values()), after  # every program runs again (the killed worker restarted)
    assert stack.media(media_id)["attempts"] == 2  # the media's own record says it took two runs
    # the output is the one an uninterrupted run makes
    reference, answer = stack.submit(f"again-{filename}", content_type, body)
    assert stack.wait_for(reference, lambda m: m["status"] in FINAL, timeout=150)["status"] == "READY"
    made, expected = stack.objects(f"permanent/{media_id}/"), stack.objects(f"permanent/{reference}/")
    if content_type.startswith("image/"):
        assert made == expected
    else:  # the segments' names and playlists are the same; x264's bytes need not be
        assert made.keys() == expected.keys()
        playlists = [name for name in made if name.endswith(".m3u8")]
        assert playlists and all(made[name] == expected[name] for name in playlists)
    # the killed worker's spool folder was swept: nothing but the (empty) folders of live processes
    leftovers = [p for p in stack.spool.rglob("*") if p.parent != stack.spool or not p.is_dir()]  # type: ignore[attr-defined]
    assert leftovers == []


def test_sigkill_of_a_worker_mid_image(stack: Stack) -> None:
    _kill_mid_job(stack, "big.jpg", "image/jpeg", _jpeg(), {"thumbnail", "optimized"})


def test_sigkill_of_a_worker_mid_video(stack: Stack) -> None:
    _kill_mid_job(stack, "clip.mp4", "video/mp4", _clip(), {"transcoding"})


def test_redis_killed_and_restarted_under_load(stack: Stack) -> None:
    before = stack.programs()
    confirmed: list[str] = []
    documents = samples.document_samples()
    images = [_jpeg(1600, 1200) for _ in range(1)]
    for n in range(6):
        media_id, answer = stack.submit(f"photo-{n}.jpg", "image/jpeg", images[0])
        if answer.status_code in (200, 202):
            confirmed.append(media_id)
    stack.kill("redis")
    during = []
    for sample in documents[:2]:  # confirms while Redis is down: each answers, none with a 500
        created = stack.call("POST", "/api/media/", json={"filename": sample.filename,
                                                          "content_type": sample.content_type,
                                                          "size": len(sample.body)})  # fmt: skip
        during.append(created.status_code)
    time.sleep(5)
    stack.restart("redis")
    restarted_at = time.monotonic()
    assert all(code in (201, 503) for code in during), during
    for sample in documents[:3]:
        media_id, answer = stack.submit(sample.filename, sample.content_type, sample.body)
        if answer.status_code in (200, 202, 503):
            confirmed.append(media_id)
    # the retry scheduler runs again: a job due in 3 s (as a retry would be) runs within 30 s of being due
    queue = rq.Queue("default", connection=stack.redis())
    probe = queue.enqueue_in(timedelta(seconds=3), "media.temp_sweep.sweep", str(uuid.uuid4()))
    due = time.monotonic() + 3
    while probe.get_status(refresh=True) != "finished" and time.monotonic() < due + 30:
        time.sleep(0.5)
    late = time.monotonic() - due
    print(f"a job due {due - restarted_at:.0f} s after Redis came back ran {late:.0f} s after it was due")
    assert probe.get_status(refresh=True) == "finished"
    counts = _print_counts("Redis killed and restarted under load", stack, confirmed, timeout=150)
    assert counts["stuck"] == 0 and counts["lost"] == 0 and counts["FAILED"] == 0
    assert stack.programs() == before  # no process of `make run` exited: the same pids


def _outage(stack: Stack, name: str, seconds: float, label: str, sig: signal.Signals = signal.SIGTERM) -> None:
    """Submit work, stop `name` for `seconds` (confirms meanwhile too), start it again, then count."""
    documents = samples.document_samples()
    confirmed: list[str] = []
    for n in range(3):
        media_id, answer = stack.submit(f"photo-{n}.jpg", "image/jpeg", _jpeg(1200, 900))
        assert answer.status_code == 202, answer.text
        confirmed.append(media_id)
    stack.kill(name, sig)
    stopped_at = time.monotonic()
    for sample in documents[:2]:  # confirms while it is down: a 503 that says what will happen, or waiting
        try:
            media_id, answer = stack.submit(sample.filename, sample.content_type, sample.body)
        except (AssertionError, requests.RequestException):
            continue  # the store is down: no upload URL can be used, nothing was confirmed
        assert answer.status_code in (200, 202, 503), answer.text
        if answer.status_code == 503:
            assert int(answer.headers["Retry-After"]) > 0
            print(f"confirm while {name} is down: 503 {answer.json()['error']}")
        if stack.media(media_id)["status"] != "PENDING":
            confirmed.append(media_id)
    time.sleep(max(0.0, seconds - (time.monotonic() - stopped_at)))
    waiting = [stack.media(media_id) for media_id in confirmed]
    assert not [m for m in waiting if m["status"] == "FAILED"], "an outage made a media FAILED"
    print(f"{name} down {time.monotonic() - stopped_at:.0f} s; meanwhile: {sorted(m['status'] for m in waiting)}")
    stack.restart(name)
    counts = _print_counts(label, stack, confirmed, timeout=180)
    assert counts["stuck"] == 0 and counts["lost"] == 0 and counts["FAILED"] == 0
    assert counts["READY"] == len(confirmed)


def test_seaweedfs_stopped_during_processing(stack: Stack) -> None:
    _outage(stack, "seaweedfs", 40, "SeaweedFS stopped for 40 s during processing")


@pytest.mark.timeout(1800)
def test_clamd_down_for_ten_minutes(stack: Stack) -> None:
    _outage(stack, "clamd", 600, "clamd down for 10 minutes")
