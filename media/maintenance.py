"""Scheduled maintenance. Each function is safe to run at any time and twice, and with
`dry_run=True` only reports what it would do (the management command's default)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TypeVar

import django_rq
from django.conf import settings
from django.utils import timezone
from redis.exceptions import RedisError
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from media import actions, dependencies, figures, jobs, spool, storage, temp_sweep, worker
from media.models import Media, Status

log = logging.getLogger(__name__)
T = TypeVar("T")

LIVE = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED}
# A confirmed media's job is queued as its row commits: one without a job for this long lost it.
STALLED_GRACE_SECONDS = 30


@dataclass
class Report:
    """What a maintenance run did (or, dry, would do): media ids per action."""

    actions: dict[str, list[str]] = field(default_factory=dict)

    def add(self, action: str, item: object) -> None:
        self.actions.setdefault(action, []).append(str(item))

    def describe(self, *, dry_run: bool) -> list[str]:
        """For a command's output: each action with its count and up to 20 of its items."""
        prefix = "would " if dry_run else ""
        out: list[str] = []
        for action, items in sorted(self.actions.items()):
            out += [f"{prefix}{action}: {len(items)}", *(f"  {item}" for item in items[:20])]
        return out or ["nothing to do"]

    def counts(self) -> dict[str, int]:
        return {action: len(items) for action, items in self.actions.items()}


def _recorded(task: str, report: Report, before: dict[str, int], *, dry_run: bool) -> Report:
    """A run that acted leaves what it did (the report's growth since `before`) for /metrics
    (mediahub_cleanup_*); a dry run records nothing."""
    if not dry_run:
        done = {action: n - before.get(action, 0) for action, n in report.counts().items()}
        figures.record_cleanup(task, {action: n for action, n in done.items() if n > 0})
    return report


def expire_pending(
    *, older_than: timedelta | None = None, dry_run: bool = False, report: Report | None = None
) -> Report:
    """PENDING media never confirmed in time become EXPIRED, and whatever reached temp/ is deleted (the
    parts of a multipart upload too); then multipart uploads no PENDING media stands behind are aborted."""
    report, before = report or Report(), (report.counts() if report else {})
    cutoff = timezone.now() - (older_than if older_than is not None else timedelta(hours=settings.PENDING_TTL_HOURS))
    for media in Media.objects.filter(status=Status.PENDING, created_at__lt=cutoff).only("id"):
        if dry_run or actions.media_expire(media=media):
            report.add("expire", media.id)
    return _recorded("expire_pending", abort_stray_uploads(dry_run=dry_run, report=report), before, dry_run=dry_run)


def abort_stray_uploads(*, dry_run: bool = False, report: Report | None = None) -> Report:
    """Multipart uploads under temp/ that no PENDING media holds (deleted, replaced, or left by a crash
    between creating one and saving its id) are aborted after a grace period, so no invisible parts stay."""
    report = report or Report()
    held = set(Media.objects.filter(status=Status.PENDING).exclude(upload_id="").values_list("upload_id", flat=True))
    cutoff = timezone.now() - timedelta(minutes=settings.MULTIPART_ABORT_GRACE_MINUTES)
    for key, upload_id, initiated in storage.list_multipart_uploads("temp/"):
        if upload_id not in held and initiated < cutoff:
            report.add("abort stray multipart upload", key)
            if not dry_run:
                storage.multipart_abort(key, upload_id)
    return report


def resume_stalled(
    *, older_than: timedelta | None = None, dry_run: bool = False, report: Report | None = None
) -> Report:
    """PROCESSING media nobody works on are queued again, without waiting for any time limit:

    - its job is gone (Redis was down at confirm, or lost its data), for longer than `older_than`;
    - its job is started but its worker is dead (no heartbeat: killed, out of memory, the machine
      rebooted): FAILED instead once it has been started STALLED_MAX_ATTEMPTS times, as it may be what
      kills its worker;
    - it waits for a dependency (media.dependencies) that is healthy again, however long it was down.

    Those whose job ended failed without the media being marked are marked FAILED."""
    report, before = report or Report(), (report.counts() if report else {})
    cutoff = timezone.now() - (older_than if older_than is not None else timedelta(seconds=STALLED_GRACE_SECONDS))
    healthy: dict[str, bool] = {}  # one probe per dependency per run
    for media in Media.objects.filter(status=Status.PROCESSING, updated_at__lt=cutoff).only(
        "id", "kind", "attempts", "error_code"
    ):
        queue = django_rq.get_queue(jobs.QUEUE_OF[media.kind], commit_mode="auto")
        try:
            job: Job | None = Job.fetch(jobs.job_id(media.id), connection=queue.connection)
        except NoSuchJobError:
            job = None
        except RedisError:
            log.warning("Redis does not answer; stalled media are resumed on a later run")
            return report
        status = job.get_status() if job is not None else None
        if status == JobStatus.STARTED:
            if worker.job_is_running(queue.connection, job.worker_name, job.id):
                continue
            if media.attempts >= settings.STALLED_MAX_ATTEMPTS:
                report.add("fail: its worker died in every attempt", media.id)
                if not dry_run:
                    reason = f"Its worker stopped (killed, or out of memory) in each of {media.attempts} attempts."
                    actions.media_fail(media_id=media.id, reason=reason)
                continue
            report.add("requeue: its worker is dead", media.id)
            if not dry_run:
                jobs.requeue_orphan(media.id, media.kind)
            continue
        if status in LIVE:
            continue
        if status == JobStatus.FAILED and media.error_code not in dependencies.BY_CODE:  # else it waits
            report.add("fail", media.id)
            if not dry_run:
                actions.media_fail(media_id=media.id)
            continue
        if (dependency := dependencies.BY_CODE.get(media.error_code)) is not None:
            if dependency.name not in healthy:
                healthy[dependency.name] = dependency.healthy()
            if not healthy[dependency.name]:
                report.add(f"wait for {dependency.name}", media.id)
                continue
        report.add("requeue", media.id)
        if not dry_run:
            jobs.enqueue_now(media.id, media.kind)
    return _recorded("resume_stalled", report, before, dry_run=dry_run)


def sweep_spool(*, dry_run: bool = False, report: Report | None = None) -> Report:
    """The spool folders of this host's dead processes (a worker killed mid-job) are removed."""
    report, before = report or Report(), (report.counts() if report else {})
    for folder in spool.dead_folders():
        report.add("sweep the spool of a dead process", folder.name)
        if not dry_run:
            spool.remove(folder)
    return _recorded("sweep_spool", report, before, dry_run=dry_run)


def purge_old(*, dry_run: bool = False, report: Report | None = None) -> Report:
    """Retention: REJECTED and EXPIRED media older than RETENTION_DAYS_REJECTED go, with every
    object they kept (quarantined files included); stray temp/ objects with no waiting media go too."""
    report, before = report or Report(), (report.counts() if report else {})
    cutoff = timezone.now() - timedelta(days=settings.RETENTION_DAYS_REJECTED)
    for media in Media.objects.filter(status__in=(Status.REJECTED, Status.EXPIRED), updated_at__lt=cutoff):
        report.add("purge", media.id)
        if not dry_run:
            actions.media_purge(media=media)
    waiting = {
        str(pk)
        for pk in Media.objects.filter(status__in=(Status.PENDING, Status.PROCESSING, Status.FAILED)).values_list(
            "pk", flat=True
        )
    }
    # a final media's temp/ object is never read again; one without a row waits out the grace period
    final = {str(pk) for pk in Media.objects.filter(status__in=temp_sweep.FINAL).values_list("pk", flat=True)}
    grace = timezone.now() - timedelta(hours=settings.PENDING_TTL_HOURS)
    for key, modified in storage.list_objects("temp/"):
        media_id = key.removeprefix("temp/")
        if media_id in final or (media_id not in waiting and modified < grace):
            report.add("delete stray temp object", key)
            if not dry_run:
                storage.delete([key])
    return _recorded("purge_old", report, before, dry_run=dry_run)


AREAS = ("temp", "permanent", "quarantine")
ORPHAN_GRACE = timedelta(hours=1)  # a run may write a media's objects just before its row is committed
WAITING = (Status.PENDING, Status.PROCESSING, Status.FAILED)
PAGE = 1000


def _pages(items: Iterable[T]) -> Iterator[list[T]]:
    page: list[T] = []
    for item in items:
        page.append(item)
        if len(page) == PAGE:
            yield page
            page = []
    if page:
        yield page


def _media_id(key: str) -> str:
    return key.split("/")[1]  # temp/<id>, permanent/<id>/..., quarantine/<id>


def purge_orphans(*, dry_run: bool = True, report: Report | None = None) -> Report:
    """Stored objects no media row stands behind (their owner was deleted before deleting a user removed
    them, say), older than ORPHAN_GRACE, are deleted; temp/ objects of media that wait no more are counted
    too (purge_old deletes those). Every run, dry or not, records what it found per area for /metrics
    (mediahub_orphan_objects and _bytes): the hourly scheduled run is dry, `manage.py purge_orphans
    --for-real` acts. Memory stays bounded: the listing is read and checked a page at a time."""
    report, before = report or Report(), (report.counts() if report else {})
    cutoff = timezone.now() - ORPHAN_GRACE
    found: dict[str, tuple[int, int]] = {}
    for area in AREAS:
        objects = size = 0
        for page in _pages(storage.list_sizes(f"{area}/")):
            ids = {_media_id(key) for key, _, _ in page}
            rows = Media.objects.filter(pk__in=[i for i in ids if _is_uuid(i)])
            if area == "temp":
                rows = rows.filter(status__in=WAITING)
            kept = {str(pk) for pk in rows.values_list("pk", flat=True)}
            for key, nbytes, modified in page:
                if _media_id(key) in kept:
                    continue
                objects, size = objects + 1, size + nbytes
                if area != "temp" and modified < cutoff:
                    report.add(f"delete orphan {area} object", key)
                    if not dry_run:
                        storage.delete([key])
        found[area] = (objects, size)
    figures.record_orphans(found)
    return _recorded("purge_orphans", report, before, dry_run=dry_run)


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True
