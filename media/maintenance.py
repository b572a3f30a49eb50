"""Scheduled maintenance. Each function is safe to run at any time and twice, and with
`dry_run=True` only reports what it would do (the management command's default)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

import django_rq
from django.conf import settings
from django.utils import timezone
from redis.exceptions import RedisError
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from media import actions, jobs, storage, temp_sweep
from media.models import Media, Status

log = logging.getLogger(__name__)

LIVE = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED}


@dataclass
class Report:
    """What a maintenance run did (or, dry, would do): media ids per action."""

    actions: dict[str, list[str]] = field(default_factory=dict)

    def add(self, action: str, item: object) -> None:
        self.actions.setdefault(action, []).append(str(item))

    def lines(self) -> list[str]:
        return [f"{action}: {len(items)}" for action, items in sorted(self.actions.items())] or ["nothing to do"]


def expire_pending(
    *, older_than: timedelta | None = None, dry_run: bool = False, report: Report | None = None
) -> Report:
    """PENDING media never confirmed in time become EXPIRED, and whatever reached temp/ is deleted."""
    report = report or Report()
    cutoff = timezone.now() - (older_than if older_than is not None else timedelta(hours=settings.PENDING_TTL_HOURS))
    for media in Media.objects.filter(status=Status.PENDING, created_at__lt=cutoff).only("id"):
        if dry_run or actions.media_expire(media=media):
            report.add("expire", media.id)
    return report


def resume_stalled(
    *, older_than: timedelta = timedelta(minutes=5), dry_run: bool = False, report: Report | None = None
) -> Report:
    """PROCESSING media whose job is gone (Redis was down at confirm, or lost its data) are queued
    again; those whose job ended failed without the media being marked are marked FAILED."""
    report = report or Report()
    cutoff = timezone.now() - older_than
    for media in Media.objects.filter(status=Status.PROCESSING, updated_at__lt=cutoff).only("id", "kind"):
        queue = django_rq.get_queue(jobs.QUEUE_OF[media.kind], commit_mode="auto")
        try:
            status = Job.fetch(jobs.job_id(media.id), connection=queue.connection).get_status()
        except NoSuchJobError:
            status = None
        except RedisError:
            log.warning("Redis does not answer; stalled media are resumed on a later run")
            return report
        if status in LIVE:
            continue
        if status == JobStatus.FAILED:
            report.add("fail", media.id)
            if not dry_run:
                actions.media_fail(media_id=media.id)
            continue
        report.add("requeue", media.id)
        if not dry_run:
            jobs.enqueue_now(media.id, media.kind)
    return report


def purge_old(*, dry_run: bool = False, report: Report | None = None) -> Report:
    """Retention: REJECTED and EXPIRED media older than RETENTION_DAYS_REJECTED go, with every
    object they kept (quarantined files included); stray temp/ objects with no waiting media go too."""
    report = report or Report()
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
    return report
