"""Start-up checks (manage.py check, and every server start): settings that could only fail later, per upload."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, register
from django.core.exceptions import ImproperlyConfigured

from media import engines
from processing import formats, rendition


@register()
def accepted_types_are_known(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """Every accepted content type must be a name of a format of that kind: sniffing rejects anything else,
    so an unknown one would accept uploads that then always fail."""
    errors = []
    for kind, rules in settings.MEDIA_KINDS.items():
        known = {t for f in formats.FORMATS if f.kind == kind for t in f.types}
        for content_type in sorted(set(rules["types"]) - known):
            errors.append(
                Error(
                    f"{kind.upper()}_TYPES names {content_type!r}, which is no {kind} format of processing/formats.py",
                    hint="Add the format to processing/formats.py, or remove the type from the setting.",
                    id="media.E001",
                )
            )
    return errors


@register()
def every_rung_has_bitrates(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """Each VIDEO_LADDER height needs its VIDEO_BITRATES entry, else every video would fail in the worker."""
    try:
        bitrates = engines.video_bitrates()
    except ImproperlyConfigured as exc:
        return [Error(str(exc), id="media.E004")]
    return [
        Error(
            f"VIDEO_LADDER has {height}, which VIDEO_BITRATES does not price",
            hint=f"Add {height}=<video kbit/s>/<audio kbit/s> to VIDEO_BITRATES.",
            id="media.E004",
        )
        for height in sorted(set(settings.VIDEO_LADDER) - set(bitrates))
    ]


@register()
def video_segments_fit(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """The short lead segments must divide the segment length, else every video would fail in the worker."""
    from processing import video  # the engine's own rule (VideoSpec), not a copy of it

    try:
        video.VideoSpec(first_segment_seconds=settings.VIDEO_FIRST_SEGMENT_SECONDS)
    except ValueError as exc:
        return [Error(f"VIDEO_FIRST_SEGMENT_SECONDS: {exc}", id="media.E005")]
    return []


@register()
def image_settings_are_known(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """Responsive source types and the crop are read by workers only: a typo would fail every image there."""
    errors = []
    for content_type in sorted(set(settings.IMAGE_SOURCE_TYPES) - set(rendition.ENCODERS)):
        errors.append(
            Error(
                f"IMAGE_SOURCE_TYPES names {content_type!r}; renditions are written as {sorted(rendition.ENCODERS)}",
                id="media.E002",
            )
        )
    if settings.IMAGE_THUMB_CROP not in ("attention", "centre"):
        errors.append(
            Error(f"IMAGE_THUMB_CROP is {settings.IMAGE_THUMB_CROP!r}, not attention or centre", id="media.E003")
        )
    return errors
