"""Reads of media for the adapters (API, events, admin): one place that builds every URL of a media."""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.urls import reverse

from media import outputs, playback, storage
from media.models import Media, MediaOutput, Status


def media_urls(media: Media, request: Any = None) -> dict[str, Any]:
    """Read URLs of the original and of every declared output, None until it exists (all only once READY).

    Presigned GETs, except HLS: its playlist is served by Django with a signature (media.playback).
    """
    ready = media.status == Status.READY
    urls: dict[str, Any] = {"original": None, **dict.fromkeys(outputs.names()), "subtitles": []}
    if not ready:
        return urls
    if media.original_key:
        urls["original"] = storage.presigned_get(media.original_key, download_name=media.filename)
    for made in media.outputs.all():  # prefetched by the list views
        output = outputs.declared(media, made.name)
        if output is None:
            continue  # made once, no longer declared: not offered
        if output.playlist:
            urls[made.name] = _signed_url(
                reverse("media-hls", kwargs={"pk": media.id, "path": made.key.rsplit("/", 1)[-1]}), media, request
            )
        elif output.view:
            urls[made.name] = _signed_url(reverse(output.view, kwargs={"pk": media.id}), media, request)
        else:
            urls[made.name] = storage.presigned_get(made.key)
        if made.name == "hls":  # the text tracks the pipeline found, beside the ladder: [{language, url}]
            folder = made.key.rsplit("/", 1)[0]
            urls["subtitles"] = [
                {"language": track["language"], "url": storage.presigned_get(f"{folder}/{track['file']}")}
                for track in media.metadata.get("subtitles", [])
            ]
    return urls


def _signed_url(path: str, media: Media, request: Any) -> str:
    url = f"{path}?{playback.signed_query(media.id)}"
    return request.build_absolute_uri(url) if request is not None else url


def output_key(media: Media, name: str) -> str | None:
    """The storage key of one made output of a READY media."""
    if media.status != Status.READY:
        return None
    return next((made.key for made in media.outputs.all() if made.name == name), None)


def lacking_outputs(kind: str) -> QuerySet[Media]:
    """READY media of a kind without every output declared for it (declared after they were made)."""
    lacks = Q(pk__in=[])
    for output in outputs.of_kind(kind):
        lacking = ~Exists(MediaOutput.objects.filter(media=OuterRef("pk"), name=output.name))
        lacks |= lacking & Q(content_type__in=output.types) if output.types else lacking
    return Media.objects.filter(kind=kind, status=Status.READY).filter(lacks)
