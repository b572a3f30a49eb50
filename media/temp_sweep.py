"""temp/<id> after a media is final: the upload URL stays valid until it expires, so a client may PUT
bytes again after READY or REJECTED. They are never read; a job scheduled for the moment the URL
expires removes them (and the daily purge removes what that job missed)."""

from __future__ import annotations

import logging
from datetime import timedelta

import django_rq
from django.conf import settings
from redis.exceptions import RedisError

from media import redis_pool, storage
from media.models import Media, Status

log = logging.getLogger(__name__)

FINAL = (Status.READY, Status.REJECTED, Status.EXPIRED)
MARGIN = timedelta(seconds=30)  # clock skew between us and the store that checks the signature


def schedule(media: Media) -> None:
    """Sweep temp/<id> once nobody can PUT there anymore; nothing to do if that time has passed."""
    when = media.created_at + timedelta(seconds=settings.UPLOAD_URL_EXPIRY) + MARGIN
    try:
        django_rq.get_queue("default", connection=redis_pool.client()).enqueue_at(
            when, sweep, str(media.id), job_id=f"sweep-temp-{media.id}"
        )
    except RedisError:
        log.warning("could not schedule the temp/ sweep of media %s; the daily purge will", media.id, exc_info=True)


def sweep(media_id: str) -> bool:
    """Delete temp/<id> unless the media still waits for it; True if there was one to delete."""
    if Media.objects.filter(pk=media_id).exclude(status__in=FINAL).exists():
        return False
    key = f"temp/{media_id}"
    if storage.head(key) is None:
        return False
    storage.delete([key])
    return True
