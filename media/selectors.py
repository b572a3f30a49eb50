"""Reads of media for the adapters (API, events, admin): one place that builds every URL of a media."""

from __future__ import annotations

from typing import Any, TypedDict

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.urls import reverse

from media import outputs, playback, storage
from media.models import Kind, Media, MediaOutput, Status


def media_urls(media: Media, request: Any = None) -> dict[str, Any]:
    """Read URLs of the original and of every declared output, None until it exists (all only once READY).

    Presigned GETs, except HLS: its playlist is served by Django with a signature (media.playback).
    """
    ready = media.status == Status.READY
    urls: dict[str, Any] = {"original": None, **dict.fromkeys(outputs.names()), "sources": [], "subtitles": []}
    if not ready:
        urls["hls"] = hls_url(media, request)  # published early: the ladder plays while the rest is made
        return urls
    if media.original_key:
        urls["original"] = storage.presigned_get(media.original_key, download_name=media.filename)
    sources: dict[str, Source] = {}  # by key: widths past the picture's own share one file
    made_outputs = media.outputs.all() if outputs.of_media(media) else ()  # prefetched by the list views
    for made in made_outputs:
        output = outputs.declared(media, made.name)
        if output is None:
            continue  # made once, no longer declared: not offered
        if output.source:
            sources.setdefault(made.key, _source(media, output, made.key))
        elif output.playlist:
            urls[made.name] = _playlist_url(media, made.key, request)
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
    order = {content_type: index for index, content_type in enumerate(settings.IMAGE_SOURCE_TYPES)}
    urls["sources"] = sorted(sources.values(), key=lambda s: (order.get(s["type"], len(order)), s["width"]))
    return urls


class Source(TypedDict):
    """One responsive rendition: a `<source type>` and a `srcset` entry of a `<picture>`."""

    type: str
    width: int
    height: int
    url: str


def _source(media: Media, output: outputs.Output, key: str) -> Source:
    width, height = output.rendition().scaled_size(media.metadata["width"], media.metadata["height"])
    return {"type": output.content_type, "width": width, "height": height, "url": storage.presigned_get(key)}


def _playlist_url(media: Media, key: str, request: Any) -> str:
    return _signed_url(reverse("media-hls", kwargs={"pk": media.id, "path": key.rsplit("/", 1)[-1]}), media, request)


def _signed_url(path: str, media: Media, request: Any) -> str:
    url = f"{path}?{playback.signed_query(media.id)}"
    return request.build_absolute_uri(url) if request is not None else url


def output_key(media: Media, name: str) -> str | None:
    """The storage key of one made output of a READY media."""
    if media.status != Status.READY:
        return None
    return next((made.key for made in media.outputs.all() if made.name == name), None)


def hls_key(media: Media) -> str | None:
    """The master playlist's key when the video plays: READY with its ladder, or still PROCESSING with
    the first segments published (`Media.playable_at`, media.live_hls)."""
    output = outputs.declared(media, "hls")
    if output is None:  # not a video: nothing to look up
        return None
    if media.status == Status.PROCESSING and media.playable_at is not None:
        return output.key(media)
    return output_key(media, "hls")


def playable(media: Media) -> bool:
    return hls_key(media) is not None


def hls_url(media: Media, request: Any = None) -> str | None:
    """The signed master playlist URL while the video plays (see hls_key), else None."""
    key = hls_key(media)
    return _playlist_url(media, key, request) if key else None


def lacking_outputs(kind: str) -> QuerySet[Media]:
    """READY media of a kind without every output declared for it (declared after they were made)."""
    lacks = Q(pk__in=[])
    for output in outputs.of_kind(kind):
        lacking = ~Exists(MediaOutput.objects.filter(media=OuterRef("pk"), name=output.name))
        lacks |= lacking & Q(content_type__in=output.types) if output.types else lacking
    return Media.objects.filter(kind=kind, status=Status.READY).filter(lacks)


def near_duplicates(media: Media) -> list[str]:
    """Ids of the owner's other READY images whose perceptual hashes differ from this one's in at most
    IMAGE_NEAR_DUPLICATE_DISTANCE bits, closest first (exact copies at 0)."""
    if not media.phash:
        return []
    mine = int(media.phash, 16)
    others = (
        Media.objects.filter(owner_id=media.owner_id, kind=Kind.IMAGE, status=Status.READY)
        .exclude(pk=media.pk)
        .exclude(phash="")
        .values_list("id", "phash", "created_at")
    )
    # the owner's hashes are compared here, portably (SQLite too); 64-bit XORs cost ~0.1 µs each
    close = [((mine ^ int(phash, 16)).bit_count(), created, str(pk)) for pk, phash, created in others]
    return [pk for distance, _, pk in sorted(close) if distance <= settings.IMAGE_NEAR_DUPLICATE_DISTANCE]


def duplicate_of(media: Media) -> str | None:
    """The owner's earliest other upload with the same bytes (SHA-256), READY or on its way there."""
    if not media.checksum_sha256:
        return None
    same = (
        Media.objects.filter(
            owner_id=media.owner_id, checksum_sha256=media.checksum_sha256, created_at__lt=media.created_at
        )
        .exclude(status__in=[Status.REJECTED, Status.EXPIRED])
        .order_by("created_at")
        .values_list("id", flat=True)
        .first()
    )
    return str(same) if same is not None else None
