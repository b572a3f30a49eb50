"""mediahub's RQ worker and cron scheduler: rq's own, made to say they are alive, to outlive Redis outages,
to recycle, and to leave paused queues alone.

Heartbeat: a thread of the worker writes `mediahub:worker:<name>` every WORKER_HEARTBEAT_SECONDS with the id of
the job it runs ("" when idle) and a TTL of WORKER_HEARTBEAT_TTL. rq's own worker key cannot tell: a worker
running a job keeps it for the job's whole time limit (4 h for a video), killed or not. `job_is_running` is
what maintenance asks before it requeues a started job (media.maintenance.resume_stalled).

Redis outages: rq's worker quits on a Redis error outside its dequeue (a heartbeat, the job's bookkeeping),
and restarts its retry scheduler only in its 10-minute maintenance; the cron scheduler quits too. Here each
waits for Redis and carries on, and the heartbeat thread restarts a dead retry scheduler within seconds.

Recycling: after WORKER_MAX_JOBS jobs, or once its peak memory passes WORKER_MAX_MEMORY_MB, the worker
finishes the job in hand, leaves (deregistered, nothing of its own in flight) and exits with EXIT_RECYCLE,
so its supervisor (supervisord under `make run`, compose's `restart`) starts a fresh one.

Paused queues (`media.queue_control`) are skipped when the worker takes its next job; running jobs finish.

Configured once: settings.RQ["WORKER_CLASS"] (so `manage.py rqworker` uses it), and `manage.py scheduler`.
"""

from __future__ import annotations

import logging
import resource
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django_rq.cron import DjangoCronScheduler
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq.job import Job
from rq.queue import Queue
from rq.worker import SimpleWorker, WorkerStatus

from media import queue_control, spool

log = logging.getLogger(__name__)

OUTAGE = (RedisConnectionError, RedisTimeoutError)
T = TypeVar("T")
EXIT_RECYCLE = 75  # EX_TEMPFAIL: "start me again", distinct from a crash (1) or a clean stop (0)
PAUSE_POLL_SECONDS = 2  # how soon a pause or resume is seen: dequeues wait at most this long


def heartbeat_key(worker_name: str) -> str:
    return f"mediahub:worker:{worker_name}"


def job_is_running(connection: Redis, worker_name: str | None, job_id: str) -> bool:
    """Whether a live worker says it runs this job (no heartbeat: the worker is dead, or it never beat)."""
    if not worker_name:
        return False
    beat = connection.get(heartbeat_key(worker_name))
    return beat is not None and beat.decode() == job_id


def wait_for_redis(connection: Redis, who: str, max_wait: float = 5.0) -> None:
    """Block until Redis answers again, backing off up to `max_wait` seconds between tries."""
    pause = 0.5
    log.warning("%s: Redis does not answer; waiting for it", who)
    while True:
        try:
            connection.ping()
        except RedisError:
            time.sleep(pause)
            pause = min(pause * 2, max_wait)
            continue
        log.warning("%s: Redis answers again; carrying on", who)
        return


class MediahubWorker(SimpleWorker):
    """A SimpleWorker (jobs in the worker process: see settings.RQ) with a heartbeat, a retry scheduler that
    is restarted within seconds, patience with Redis, recycling, and paused queues skipped."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._running_job_id = ""
        self._beating = threading.Event()
        self.jobs_done = 0
        self.recycle_reason = ""
        # the heartbeat thread looks after the retry scheduler only between rq starting and stopping it
        self._scheduler_lock = threading.Lock()
        self._scheduler_watched = False

    # --- heartbeat -------------------------------------------------------------------------

    def bootstrap(self, *args: Any, **kwargs: Any) -> None:
        while True:  # a worker started while Redis is down waits for it
            try:
                super().bootstrap(*args, **kwargs)
                break
            except OUTAGE:
                wait_for_redis(self.connection, f"worker {self.name}")
        spool.sweep_dead()  # what workers killed on this host left behind
        self._start_heartbeat()

    def _start_heartbeat(self) -> None:
        if self._beating.is_set():
            return
        self._beating.set()
        threading.Thread(target=self._heartbeat_loop, name="mediahub-heartbeat", daemon=True).start()

    def _heartbeat_loop(self) -> None:
        redis_was_away = False
        while self._beating.is_set():
            try:
                self._beat()
                if redis_was_away:
                    self._restart_scheduler()
                    redis_was_away = False
                else:
                    self._restart_dead_scheduler()
            except RedisError:
                redis_was_away = True  # the main loop waits for Redis; this thread notices its return
            except Exception:
                log.exception("worker %s: heartbeat failed", self.name)
            time.sleep(settings.WORKER_HEARTBEAT_SECONDS)

    def _beat(self) -> None:
        self.connection.set(heartbeat_key(self.name), self._running_job_id, ex=settings.WORKER_HEARTBEAT_TTL)

    def _start_scheduler(self, *args: Any, **kwargs: Any) -> None:
        with self._scheduler_lock:
            super()._start_scheduler(*args, **kwargs)
            self._scheduler_watched = True

    def _restart_dead_scheduler(self) -> None:
        """rq restarts a dead retry scheduler only in its 10-minute maintenance: retries due in 10 s would wait."""
        with self._scheduler_lock:
            scheduler = self.scheduler
            if not self._scheduler_watched or scheduler is None:
                return
            process = scheduler._process
            if process is None or not process.is_alive():
                scheduler.acquire_locks(auto_start=True)  # another worker's scheduler may hold the locks: fine

    def _restart_scheduler(self) -> None:
        """After a Redis outage, a fresh retry scheduler: the old one may have died or hung on its connection,
        and its locks (restored from Redis' append-only file) would keep any other out for a minute."""
        with self._scheduler_lock:
            scheduler = self.scheduler
            if not self._scheduler_watched or scheduler is None:
                return
            process = scheduler._process
            if process is not None and process.is_alive():
                process.terminate()
                process.join(5)
            scheduler.release_locks()
            scheduler.acquire_locks(auto_start=True)
        log.warning("worker %s: retry scheduler restarted after the Redis outage", self.name)

    def prepare_job_execution(self, job: Job, remove_from_intermediate_queue: bool = False) -> None:
        # say which job this worker runs before rq marks it started, so a started job always has a beat
        self._running_job_id = job.id
        self._beat()
        super().prepare_job_execution(job, remove_from_intermediate_queue)

    def teardown(self) -> None:
        with self._scheduler_lock:  # no restart may race rq stopping the scheduler (its process would outlive us)
            self._scheduler_watched = False
        self._beating.clear()
        try:
            self.connection.delete(heartbeat_key(self.name))
            super().teardown()
        except RedisError:
            log.warning("worker %s: Redis away at exit; its records expire on their own", self.name)

    # --- Redis outages ---------------------------------------------------------------------

    def _survive(self, step: Callable[[], T]) -> T | None:
        """Run one step of the work loop; on a Redis outage wait for Redis and carry on."""
        try:
            return step()
        except OUTAGE:
            wait_for_redis(self.connection, f"worker {self.name}")
            return None

    def check_for_suspension(self, burst: bool) -> None:
        self._survive(lambda: super(MediahubWorker, self).check_for_suspension(burst))

    def run_maintenance_tasks(self) -> None:
        self._survive(super().run_maintenance_tasks)

    def heartbeat(self, *args: Any, **kwargs: Any) -> None:
        self._survive(lambda: super(MediahubWorker, self).heartbeat(*args, **kwargs))

    def execute_job(self, job: Job, queue: Queue) -> None:
        """A job whose bookkeeping met a Redis outage is left for maintenance: the heartbeat no longer names
        it, so resume_stalled queues it again if its media is still PROCESSING (a second run is harmless)."""
        try:
            self._survive(lambda: super(MediahubWorker, self).execute_job(job, queue))
        finally:
            self._running_job_id = ""
        self._count_for_recycling()

    # --- recycling -------------------------------------------------------------------------

    def _count_for_recycling(self) -> None:
        self.jobs_done += 1
        self.recycle_reason = self.recycle_due()
        if self.recycle_reason:
            self.log.info("Worker %s: recycling (%s) after the job in hand", self.name, self.recycle_reason)
            self._stop_requested = True  # rq's loop leaves before taking another job

    def recycle_due(self) -> str:
        """Why the worker should be replaced now, or "" to go on."""
        if settings.WORKER_MAX_JOBS and self.jobs_done >= settings.WORKER_MAX_JOBS:
            return f"{self.jobs_done} jobs done"
        peak_mb = peak_memory_mb()
        if settings.WORKER_MAX_MEMORY_MB and peak_mb >= settings.WORKER_MAX_MEMORY_MB:
            return f"memory peaked at {peak_mb:.0f} MB"
        return ""

    def work(self, *args: Any, **kwargs: Any) -> bool:
        worked = super().work(*args, **kwargs)  # returns once stopped, after deregistering
        if self.recycle_reason:
            sys.exit(EXIT_RECYCLE)
        return worked

    # --- paused queues ---------------------------------------------------------------------

    def _paused(self) -> set[str]:
        return self._survive(lambda: queue_control.paused_names(self.connection)) or set()

    def dequeue_job_and_maintain_ttl(self, timeout: int | None, max_idle_time: int | None = None) -> Any:
        """rq's dequeue, over the queues that are not paused, waiting at most PAUSE_POLL_SECONDS at a time
        so a pause, a resume or a stop request is seen soon. Burst mode (`timeout` None) looks once."""
        idle_since = time.monotonic()
        while not self._stop_requested:  # a stop asked for while rq still thought the worker busy
            listening = self._ordered_queues
            active = [q for q in listening if q.name not in self._paused()]
            result = None
            if active:
                self._ordered_queues = active
                try:
                    wait = PAUSE_POLL_SECONDS if timeout is None else min(timeout, PAUSE_POLL_SECONDS)
                    result = super().dequeue_job_and_maintain_ttl(None if timeout is None else wait, wait)
                finally:
                    self._ordered_queues = listening  # priority order, as the queues were given
                result = self.unless_paused(result)
            else:
                self.heartbeat()
                self.set_state(WorkerStatus.IDLE)
                if timeout is not None:
                    time.sleep(PAUSE_POLL_SECONDS)
            if result is not None or timeout is None:
                return result
            if max_idle_time is not None and time.monotonic() - idle_since >= max_idle_time:
                return None
        return None

    def unless_paused(self, result: tuple[Job, Queue] | None) -> tuple[Job, Queue] | None:
        """A job taken from a queue paused while this worker waited on it goes back to the queue's front."""
        if result is not None and result[1].name in self._paused():
            result[1].push_job_id(result[0].id, at_front=True)
            return None
        return result


def peak_memory_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


class MediahubCronScheduler(DjangoCronScheduler):
    """rq's cron scheduler (`manage.py scheduler`), which waits out a Redis outage instead of exiting."""

    def enqueue_jobs(self) -> list:
        try:
            return super().enqueue_jobs()
        except OUTAGE:
            wait_for_redis(self.connection, f"scheduler {self.name}")
            return []

    def save(self, *args: Any, **kwargs: Any) -> None:
        try:
            super().save(*args, **kwargs)
        except OUTAGE:
            wait_for_redis(self.connection, f"scheduler {self.name}")

    def heartbeat(self) -> None:
        try:
            super().heartbeat()
        except OUTAGE:
            wait_for_redis(self.connection, f"scheduler {self.name}")  # rq's next heartbeat registers it again
