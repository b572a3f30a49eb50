"""The job layer: enqueueing, the RQ entry point, retries and the final FAILED.

Jobs carry the media id only and are enqueued after the row is committed. The
job id is derived from the media id, so a media is never queued twice. Bad
input (`Rejected`) ends the media REJECTED and the job succeeds: nothing to
retry. Any other exception fails the job; RQ retries it with backoff
(JOB_RETRY_INTERVALS), and when no retry is left, the failure callback marks
the media FAILED with the full text kept for moderators, unless the last
failure was a dependency's outage (clamd, the store, disk or memory:
media.dependencies): then the media waits in PROCESSING and maintenance
resumes it once the dependency is back, however long that takes.
"""

from __future__ import annotations

import contextlib
import logging
import traceback
from types import TracebackType

import django_rq
from django.conf import settings
from django.db import transaction
from redis.exceptions import RedisError
from rq import Callback, Queue, Retry
from rq.exceptions import DuplicateJobError, InvalidJobOperation, NoSuchJobError
from rq.job import Job, JobStatus
from rq.timeouts import JobTimeoutException

from media import actions, dependencies, lifecycle, pipeline, redis_pool
from media.models import Kind, Media, Status
from processing.errors import Deferred, GiveUp, Rejected, Superseded

log = logging.getLogger(__name__)

QUEUE_OF = {Kind.IMAGE: "images", Kind.VIDEO: "videos", Kind.AUDIO: "default", Kind.DOCUMENT: "default"}
FINISHED = {JobStatus.FINISHED, JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED}


def job_id(media_id: object) -> str:
    return f"media-{media_id}"


def timeout_of(kind: str) -> int:
    return {
        Kind.IMAGE: settings.JOB_TIMEOUT_IMAGE,
        Kind.VIDEO: settings.JOB_TIMEOUT_VIDEO,
    }.get(kind, settings.JOB_TIMEOUT_INLINE)


def queue_of(kind: str) -> Queue:
    """The kind's queue, on the process's shared Redis pool (django_rq would connect anew each time)."""
    return django_rq.get_queue(QUEUE_OF[kind], commit_mode="auto", connection=redis_pool.client())


def enqueue(media: Media) -> None:
    """Queue the media's processing once the surrounding transaction commits."""
    transaction.on_commit(lambda: enqueue_now(media.id, media.kind))


def enqueue_now(media_id: object, kind: str, *, fill: bool = False) -> bool:
    """Queue the job unless one is already waiting or running; False when it was not queued.

    If Redis is down the media simply stays PROCESSING: `resume_stalled` queues it later.
    `fill` queues `fill_outputs` for a READY media instead (the same job id: one run of a media at a time).
    """
    queue = queue_of(kind)
    try:
        try:
            existing = Job.fetch(job_id(media_id), connection=queue.connection)
            if existing.get_status() not in FINISHED:
                return False
            existing.delete()  # a finished record of an earlier run; this is a new run
        except NoSuchJobError:
            pass
        queue.enqueue(
            fill_outputs if fill else process_media,
            str(media_id),
            job_id=job_id(media_id),
            unique=True,
            job_timeout=timeout_of(kind),
            result_ttl=settings.JOB_RESULT_TTL,
            failure_ttl=settings.JOB_FAILURE_TTL,
            retry=Retry(max=settings.JOB_MAX_RETRIES, interval=settings.JOB_RETRY_INTERVALS),
            on_failure=Callback(on_job_failure),
            description=f"process {kind} {media_id}",
        )
        return True
    except DuplicateJobError:
        return False
    except RedisError:
        log.warning("could not queue media %s; it stays PROCESSING until resumed", media_id, exc_info=True)
        return False


def requeue_orphan(media_id: object, kind: str) -> bool:
    """Queue a media again whose started job nobody runs any more (its worker died): the job's record goes
    from the started registry, then a fresh job is queued under the same id."""
    queue = queue_of(kind)
    with contextlib.suppress(NoSuchJobError):
        orphan = Job.fetch(job_id(media_id), connection=queue.connection)
        queue.started_job_registry.remove_executions(orphan)
        orphan.delete()
    return enqueue_now(media_id, kind)


def cancel(media_id: object, kind: str) -> None:
    """Drop a waiting job of a media being deleted (a running one stops at its next step)."""
    queue = queue_of(kind)
    with contextlib.suppress(NoSuchJobError, InvalidJobOperation, RedisError, ValueError):  # already gone
        Job.fetch(job_id(media_id), connection=queue.connection).cancel()


def process_media(media_id: str) -> str:
    """The RQ job: run the media's pipeline once. Safe to run twice, or for a media no longer PROCESSING."""
    media = lifecycle.begin_attempt(media_id)
    if media is None:
        return "skipped: not PROCESSING"
    return _run(media)


def _run(media: Media, *, confirming: bool = False) -> str:
    """One attempt of the media's pipeline, already counted; its outcome as the job's result.

    `confirming`: the inline path of confirm (run_inline below); what does not fit it is queued."""
    try:
        if confirming:
            pipeline.run_inline(media, confirming=True)
        else:
            pipeline.PIPELINES[media.kind](media)
    except Deferred as exc:
        log.info("media %s: %s; queued", media.id, exc)
        enqueue_now(media.id, media.kind)  # still PROCESSING; resume_stalled queues it if Redis is down
        return "deferred: queued"
    except Rejected as exc:
        actions.media_reject(media=media, exc=exc)
        return f"rejected: {exc.code}"
    except GiveUp as exc:
        actions.media_fail(media_id=media.id, reason=exc.message, detail=exc.detail, retried=False)
        return "failed: not retried"
    except Superseded:
        actions.drop_if_deleted(media=media)
        return "stopped: no longer PROCESSING"
    return "ready"


def fill_outputs(media_id: str) -> str:
    """The RQ job for a READY media: its pipeline again, making only the outputs declared since."""
    media = Media.objects.filter(pk=media_id, status=Status.READY).first()
    if media is None:
        return "skipped: not READY"
    try:
        pipeline.PIPELINES[media.kind](media)
    except (Rejected, GiveUp) as exc:  # it stays READY with what it has; the reason is for the operator
        log.warning("media %s: could not fill in its outputs: %s", media.id, exc)
        return "failed: kept as it was"
    return "filled"


def on_job_failure(
    job: Job, connection: object, exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
) -> None:
    """RQ calls this after every failed run; only the last one makes the media FAILED."""
    media_id = job.args[0]
    if job.should_retry:
        # the reason of each attempt that is retried lives only here: RQ records the last failure alone
        log.warning("media %s: attempt failed (%s: %s), will retry", media_id, exc_type.__name__, exc)
        return
    if (dependency := dependencies.waiting_on(exc)) is not None:  # no FAILED for an outage: it waits
        dependencies.wait_for(media_id, dependency, exc)
        return
    detail = "".join(traceback.format_exception(exc_type, exc, tb)) if tb else f"{exc_type.__name__}: {exc}"
    # our own transient errors (ffmpeg's, say) carry a short readable message and the full text
    reason = exc.message.strip() if isinstance(getattr(exc, "message", None), str) else ""
    if isinstance(exc, JobTimeoutException):  # RQ's own text names a "Task" and its internals
        reason = f"It took longer than its time limit ({job.timeout} s) and was stopped."
    extra = exc.detail if isinstance(getattr(exc, "detail", None), str) else ""
    actions.media_fail(media_id=media_id, reason=reason, detail=(f"{extra}\n\n" if extra else "") + detail[-20000:])


def run_inline(media: Media) -> str:
    """The inline path of confirm, for a media claimed with its attempt counted
    (`lifecycle.start_processing(attempt=True)`). On a transient failure the media stays PROCESSING, a
    retrying job is queued, and the exception is raised for the caller to report."""
    try:
        return _run(media, confirming=True)
    except Exception:
        enqueue_now(media.id, media.kind)
        raise
