"""`manage.py scheduler`: the scheduled maintenance of media/cron.py, by rq's cron scheduler, kept running
through Redis outages (media.worker.MediahubCronScheduler)."""

from __future__ import annotations

import logging
from typing import Any

from django.core.management.base import BaseCommand

from media.worker import MediahubCronScheduler

CONFIG = "media.cron"


class Command(BaseCommand):
    help = "Runs the scheduled maintenance (media/cron.py) until stopped."

    def handle(self, *args: Any, **options: Any) -> None:
        scheduler = MediahubCronScheduler(logging_level=logging.INFO)
        scheduler.load_config_from_file(CONFIG)
        self.stdout.write(f"scheduler: {len(scheduler.get_jobs())} jobs from {CONFIG}")
        scheduler.start()
