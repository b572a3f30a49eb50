"""The worker every mediahub process runs (`rqworker --worker-class media.worker.MediahubWorker`).

An rq SimpleWorker (jobs run in the worker process: see settings.RQ) that

- recycles: after WORKER_MAX_JOBS jobs, or once its peak memory passes WORKER_MAX_MEMORY_MB, it
  finishes the job in hand, leaves (deregistered, nothing of its own in flight) and exits with
  EXIT_RECYCLE, so its supervisor starts a fresh one; the jobs still waiting stay in Redis for it;
- skips paused queues (`media.queue_control`) when it takes its next job; jobs already running finish.
"""

from __future__ import annotations

import resource
import sys
import time
from typing import Any

from django.conf import settings
from rq.job import Job
from rq.queue import Queue
from rq.worker import SimpleWorker, WorkerStatus

from media import queue_control

EXIT_RECYCLE = 75  # EX_TEMPFAIL: "start me again", distinct from a crash (1) or a clean stop (0)
PAUSE_POLL_SECONDS = 2  # how soon a pause or resume is seen: dequeues wait at most this long


class MediahubWorker(SimpleWorker):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.jobs_done = 0
        self.recycle_reason = ""

    # --- recycling -------------------------------------------------------------------------------

    def execute_job(self, job: Job, queue: Queue) -> None:
        super().execute_job(job, queue)
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

    # --- paused queues ---------------------------------------------------------------------------

    def dequeue_job_and_maintain_ttl(self, timeout: int | None, max_idle_time: int | None = None) -> Any:
        """rq's dequeue, over the queues that are not paused, waiting at most PAUSE_POLL_SECONDS at a time
        so a pause, a resume or a stop request is seen soon. Burst mode (`timeout` None) looks once."""
        idle_since = time.monotonic()
        while not self._stop_requested:  # a stop asked for while rq still thought the worker busy
            listening = self._ordered_queues
            active = [q for q in listening if q.name not in queue_control.paused_names(self.connection)]
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
        if result is not None and result[1].name in queue_control.paused_names(self.connection):
            result[1].push_job_id(result[0].id, at_front=True)
            return None
        return result


def peak_memory_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
