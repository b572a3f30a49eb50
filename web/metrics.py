"""GET /metrics: Prometheus text format, computed at scrape time from the database and Redis.

Web servers and workers are separate processes; reading the shared state when
scraped keeps every process's work counted without a multiprocess registry.
Every figure here is a few indexed queries or Redis reads; what costs a bucket
listing (orphaned objects) is counted by the scheduled cleanup and read back
from Redis (`media.figures`).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from datetime import timedelta

import django_rq
from django.conf import settings
from django.db.models import Count, F, Sum
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.utils import timezone
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from redis.exceptions import RedisError
from rq import Worker
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry

from media import figures, queue_control, spool
from media.models import Kind, Media, Status
from web import health

RECENT = 200  # finished media per kind whose durations make the quantiles
FINAL = (Status.READY, Status.FAILED, Status.REJECTED)  # the statuses a processed media ends in


class MediahubCollector:
    def collect(self) -> Iterator[Metric]:
        yield from self._media()
        yield from self._uploads()
        yield from self._stuck()
        yield from self._durations()
        yield from self._queues()
        yield from self._components()
        yield from self._spool()
        yield from self._figures()

    def _media(self) -> Iterator[Metric]:
        counts = GaugeMetricFamily("mediahub_media", "Media by status and kind.", labels=["status", "kind"])
        found = {
            (row["status"], row["kind"]): row["n"]
            for row in Media.objects.values("status", "kind").annotate(n=Count("id"))
        }
        for status in Status.values:
            for kind in Kind.values:
                counts.add_metric([status, kind], found.get((status, kind), 0))
        yield counts
        recent = GaugeMetricFamily(
            "mediahub_media_finished_last_hour",
            "Media that reached a final state in the last hour.",
            labels=["status", "kind"],
        )
        since = timezone.now() - timedelta(hours=1)
        rows = Media.objects.filter(finished_at__gte=since).values("status", "kind").annotate(n=Count("id"))
        finished = {(row["status"], row["kind"]): row["n"] for row in rows}
        for status in FINAL:  # zeros too, so a rate or an alert always has a series to read
            for kind in Kind.values:
                recent.add_metric([status, kind], finished.get((status, kind), 0))
        yield recent

    def _uploads(self) -> Iterator[Metric]:
        count = GaugeMetricFamily("mediahub_uploads_last_hour", "Uploads confirmed in the last hour.", labels=["kind"])
        size = GaugeMetricFamily(
            "mediahub_upload_bytes_last_hour", "Bytes of the uploads confirmed in the last hour.", labels=["kind"]
        )
        since = timezone.now() - timedelta(hours=1)
        found = {
            row["kind"]: row
            for row in Media.objects.filter(confirmed_at__gte=since)
            .values("kind")
            .annotate(n=Count("id"), size=Sum("size"))
        }
        for kind in Kind.values:
            row = found.get(kind, {})
            count.add_metric([kind], row.get("n", 0))
            size.add_metric([kind], row.get("size") or 0)
        yield count
        yield size

    def _stuck(self) -> Iterator[Metric]:
        gauge = GaugeMetricFamily(
            "mediahub_media_stuck_processing",
            f"PROCESSING media unchanged for over STUCK_PROCESSING_MINUTES ({settings.STUCK_PROCESSING_MINUTES}).",
            labels=["kind"],
        )
        cutoff = timezone.now() - timedelta(minutes=settings.STUCK_PROCESSING_MINUTES)
        found = {
            row["kind"]: row["n"]
            for row in Media.objects.filter(status=Status.PROCESSING, updated_at__lt=cutoff)  # the status index
            .values("kind")
            .annotate(n=Count("id"))
        }
        for kind in Kind.values:
            gauge.add_metric([kind], found.get(kind, 0))
        yield gauge

    def _spool(self) -> Iterator[Metric]:
        free, total = spool.disk_usage()
        yield GaugeMetricFamily("mediahub_spool_free_bytes", "Free bytes on the spool's disk.", value=free)
        yield GaugeMetricFamily("mediahub_spool_size_bytes", "Size of the spool's disk.", value=total)

    def _figures(self) -> Iterator[Metric]:
        try:
            found, events = figures.read()
        except RedisError:
            return
        yield CounterMetricFamily(
            "mediahub_events_published", "Progress events sent to the channel layer.", value=events
        )
        objects = GaugeMetricFamily(
            "mediahub_orphan_objects", "Stored objects no waiting media stands behind (last survey).", labels=["area"]
        )
        size = GaugeMetricFamily("mediahub_orphan_bytes", "Bytes of those objects (last survey).", labels=["area"])
        last_run = GaugeMetricFamily(
            "mediahub_cleanup_last_run_timestamp_seconds", "When each cleanup task last acted.", labels=["task"]
        )
        items = GaugeMetricFamily(
            "mediahub_cleanup_items", "What each cleanup task did on its last run.", labels=["task", "action"]
        )
        for name, value in sorted(found.items()):
            group, _, rest = name.partition(":")
            subject, _, what = rest.rpartition(":")
            if group == "orphans":
                (objects if what == "objects" else size).add_metric([subject], value)
            elif group == "cleanup" and what == "last_run":
                last_run.add_metric([subject], value)
            elif group == "cleanup":
                task, _, action = rest.partition(":")
                items.add_metric([task, action], value)
        yield from (objects, size, last_run, items)

    def _durations(self) -> Iterator[Metric]:
        gauge = GaugeMetricFamily(
            "mediahub_processing_seconds",
            "Processing time of recent READY media (quantiles).",
            labels=["kind", "quantile"],
        )
        for kind in Kind.values:
            durations = [
                d.total_seconds()
                for d in Media.objects.filter(kind=kind, status=Status.READY, processing_started_at__isnull=False)
                .order_by("-finished_at")
                .annotate(took=F("finished_at") - F("processing_started_at"))
                .values_list("took", flat=True)[:RECENT]
                if d is not None
            ]
            if len(durations) >= 2:
                cuts = statistics.quantiles(durations, n=100, method="inclusive")
                gauge.add_metric([kind, "0.5"], cuts[49])
                gauge.add_metric([kind, "0.95"], cuts[94])
        yield gauge

    def _queues(self) -> Iterator[Metric]:
        jobs = GaugeMetricFamily("mediahub_queue_jobs", "RQ jobs by queue and state.", labels=["queue", "state"])
        oldest = GaugeMetricFamily("mediahub_queue_oldest_seconds", "Age of the oldest waiting job.", labels=["queue"])
        workers = GaugeMetricFamily("mediahub_queue_workers", "Workers listening on the queue.", labels=["queue"])
        paused = GaugeMetricFamily("mediahub_queue_paused", "Whether the queue is paused (1).", labels=["queue"])
        try:
            paused_names = queue_control.paused_names()
            for name in settings.RQ_QUEUES:
                paused.add_metric([name], int(name in paused_names))
                queue = django_rq.get_queue(name)
                jobs.add_metric([name, "queued"], queue.count)
                jobs.add_metric([name, "started"], StartedJobRegistry(queue=queue).count)
                jobs.add_metric([name, "scheduled"], ScheduledJobRegistry(queue=queue).count)
                jobs.add_metric([name, "failed"], FailedJobRegistry(queue=queue).count)
                first = queue.get_job_ids(0, 1)
                job = queue.fetch_job(first[0]) if first else None
                age = time.time() - job.enqueued_at.timestamp() if job and job.enqueued_at else 0.0
                oldest.add_metric([name], max(age, 0.0))
                workers.add_metric([name], Worker.count(queue=queue))
        except RedisError:
            return  # mediahub_up{component="redis"} says why
        yield jobs
        yield oldest
        yield workers
        yield paused

    def _components(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("mediahub_up", "Whether a component answers (1) or not (0).", labels=["component"])
        for name in ("database", "redis", "storage", "clamav"):
            try:
                health.CHECKS[name]()
                up.add_metric([name], 1)
            except Exception:
                up.add_metric([name], 0)
        yield up


def metrics(request: HttpRequest) -> HttpResponse:
    if not health.is_operator(request):
        return HttpResponseForbidden("metrics need the bearer token set in METRICS_TOKEN\n")
    registry = CollectorRegistry(auto_describe=False)
    registry.register(MediahubCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
