"""Scheduled maintenance: each function is safe to run at any time, and twice."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from media import lifecycle, storage
from media.models import Media, Status

log = logging.getLogger(__name__)


def expire_pending(*, older_than: timedelta | None = None, dry_run: bool = False) -> list[str]:
    """PENDING media never confirmed in time become EXPIRED, and whatever reached temp/ is deleted."""
    cutoff = timezone.now() - (older_than or timedelta(hours=settings.PENDING_TTL_HOURS))
    expired = []
    for media_id in Media.objects.filter(status=Status.PENDING, created_at__lt=cutoff).values_list("id", flat=True):
        if dry_run:
            expired.append(str(media_id))
            continue
        media = lifecycle.mark_expired(media_id)
        if media is not None:  # a confirm that won the race keeps its upload
            storage.delete([media.temp_key])
            expired.append(str(media_id))
    if expired:
        log.info("%s %d unconfirmed uploads", "would expire" if dry_run else "expired", len(expired))
    return expired
