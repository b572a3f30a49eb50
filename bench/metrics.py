"""What one /metrics scrape costs, section by section, with the sections this project had before the
operators' figures (issue 16) as the reference measured in the same run.

    DATABASE_URL=postgres://... REDIS_URL=redis://127.0.0.1:6379/N .venv/bin/python bench/metrics.py --media 20000

It adds `--media` rows (one bench user's, spread over kinds and statuses, a fifth of them confirmed in the
last hour) to the database it is given, times each section of web.metrics.MediahubCollector `--rounds`
times, prints the median per section and the ratio of the new sections to the old, then deletes its rows.
It only prints figures; Redis, the bucket and clamd must answer (the `mediahub_up` section checks them).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mediahub.settings")

import django  # noqa: E402

django.setup()

from datetime import timedelta  # noqa: E402

from django.contrib.auth import get_user_model  # noqa: E402
from django.utils import timezone  # noqa: E402

from media.models import Kind, Media, Status  # noqa: E402
from web.metrics import MediahubCollector  # noqa: E402

OLD = ("_media", "_durations", "_queues", "_components")  # before issue 16
NEW = ("_uploads", "_stuck", "_spool", "_figures")


def seed(count: int) -> object:
    owner, _ = get_user_model().objects.get_or_create(username="bench-metrics")
    now = timezone.now()
    kinds, statuses = list(Kind.values), list(Status.values)
    rows = []
    for n in range(count):
        started = now - timedelta(minutes=n % 600)
        rows.append(
            Media(
                owner=owner,
                kind=kinds[n % len(kinds)],
                status=statuses[n % len(statuses)],
                filename="bench.jpg",
                content_type="image/jpeg",
                size=1000 + n,
                confirmed_at=started if n % 5 == 0 else None,
                processing_started_at=started,
                finished_at=started + timedelta(seconds=1 + n % 30),
            )
        )
    Media.objects.bulk_create(rows, batch_size=2000)
    return owner


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--media", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    owner = seed(args.media)
    try:
        collector = MediahubCollector()
        times: dict[str, list[float]] = {name: [] for name in OLD + NEW}
        for _ in range(args.rounds):
            for name in OLD + NEW:
                start = time.perf_counter()
                list(getattr(collector, name)())
                times[name].append((time.perf_counter() - start) * 1000)
        print(f"{Media.objects.count()} media rows, {args.rounds} rounds, median ms per section")
        for name in OLD + NEW:
            print(f"  {'old' if name in OLD else 'new'} {name:12} {statistics.median(times[name]):8.2f}")
        old = sum(statistics.median(times[n]) for n in OLD)
        new = sum(statistics.median(times[n]) for n in NEW)
        print(f"old sections {old:.1f} ms, new sections {new:.1f} ms: new/old = {new / old:.2f}")
    finally:
        Media.objects.filter(owner=owner).delete()
        owner.delete()


if __name__ == "__main__":
    main()
