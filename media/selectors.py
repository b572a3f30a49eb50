"""Reads of media for the adapters (API, events, admin): one place that builds every URL of a media."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from media import playback, storage
from media.models import Media, Status


def media_urls(media: Media, request: Any = None) -> dict[str, str | None]:
    """Presigned read URLs of every output a client may fetch (the original only once accepted)."""
    ready = media.status == Status.READY

    def url(key: str, **kwargs: Any) -> str | None:
        return storage.presigned_get(key, **kwargs) if ready and key else None

    hls = None
    if ready and media.hls_key:
        hls = (
            f"{reverse('media-hls', kwargs={'pk': media.id, 'path': 'master.m3u8'})}?{playback.signed_query(media.id)}"
        )
        if request is not None:
            hls = request.build_absolute_uri(hls)
    return {
        "original": url(media.original_key, download_name=media.filename),
        "thumbnail": url(media.thumbnail_key),
        "optimized": url(media.optimized_key),
        "hls": hls,
    }
