"""The engines' configuration, read from settings at each call (tests override settings).

The engines in `processing/` know no Django: every tunable reaches them as a
spec object built here, the one place where settings meet them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from processing import archives, scan

if TYPE_CHECKING:  # Pillow and ffmpeg's engines load in workers only
    from processing import documents, images, storyboard, video, waveform


def clamd() -> scan.Clamd:
    return scan.Clamd(settings.CLAMD_HOST, settings.CLAMD_PORT, settings.CLAMD_TIMEOUT)


def archive_limits() -> archives.Limits:
    """How far a zip-based document is unpacked for its parts to be scanned."""
    return archives.Limits(
        max_depth=settings.ARCHIVE_MAX_DEPTH,
        max_members=settings.ARCHIVE_MAX_MEMBERS,
        max_unpacked=settings.ARCHIVE_MAX_UNPACKED,
    )


def ffmpeg_tools() -> dict[str, str]:
    """The ffmpeg and ffprobe binaries, as keyword arguments of the audio engine."""
    return {"ffmpeg": settings.FFMPEG_BIN, "ffprobe": settings.FFPROBE_BIN}


def image_spec() -> images.ImageSpec:
    from processing import images

    return images.ImageSpec(
        thumb_size=settings.IMAGE_THUMB_SIZE,
        optimized_max=settings.IMAGE_OPTIMIZED_MAX,
        quality=settings.IMAGE_QUALITY,
        avif_quality=settings.IMAGE_AVIF_QUALITY,
        avif_speed=settings.IMAGE_AVIF_SPEED,
        crop=settings.IMAGE_THUMB_CROP,
        max_pixels=settings.IMAGE_MAX_PIXELS,
    )


def video_bitrates() -> dict[int, tuple[int, int]]:
    """VIDEO_BITRATES as {height: (video, audio)} in bit/s; a malformed entry names the setting."""
    bitrates = {}
    try:
        for height, rates in settings.VIDEO_BITRATES.items():
            video_kbits, audio_kbits = rates.split("/")
            bitrates[int(height)] = (int(video_kbits) * 1000, int(audio_kbits) * 1000)
    except ValueError as exc:
        raise ImproperlyConfigured(f"VIDEO_BITRATES: expected height=video/audio in kbit/s ({exc})") from exc
    return bitrates


def video_spec() -> video.VideoSpec:
    from processing import video

    bitrates = video_bitrates()
    ladder = tuple(video.Variant(height, *bitrates[height]) for height in sorted(settings.VIDEO_LADDER))
    try:
        return video.VideoSpec(
            ladder=ladder,
            first_segment_seconds=settings.VIDEO_FIRST_SEGMENT_SECONDS,
            max_duration=settings.VIDEO_MAX_DURATION,
            max_width=max(settings.VIDEO_MAX_WIDTH, settings.VIDEO_MAX_HEIGHT),
            max_height=min(settings.VIDEO_MAX_WIDTH, settings.VIDEO_MAX_HEIGHT),
            max_pixels=settings.VIDEO_MAX_WIDTH * settings.VIDEO_MAX_HEIGHT,
            max_fps=settings.VIDEO_MAX_FPS,
            # ffmpeg is stopped by its own timeout before RQ's job timeout kills the whole job
            timeout=max(10.0, settings.JOB_TIMEOUT_VIDEO * 0.9),
            stall_timeout=settings.VIDEO_STALL_TIMEOUT,
            ffmpeg=settings.FFMPEG_BIN,
            ffprobe=settings.FFPROBE_BIN,
        )
    except ValueError as exc:  # the spec's one rule across fields: the lead segments must divide the others
        raise ImproperlyConfigured(f"VIDEO_FIRST_SEGMENT_SECONDS: {exc}") from exc


def storyboard_spec() -> storyboard.StoryboardSpec:
    from processing import storyboard

    return storyboard.StoryboardSpec(
        interval=settings.STORYBOARD_INTERVAL,
        max_tiles=settings.STORYBOARD_MAX_TILES,
        tile_width=settings.STORYBOARD_TILE_WIDTH,
    )


def waveform_spec() -> waveform.WaveformSpec:
    from processing import waveform

    return waveform.WaveformSpec(ffmpeg=settings.FFMPEG_BIN)


def preview_spec() -> documents.PreviewSpec:
    from processing import documents

    return documents.PreviewSpec(timeout=settings.PREVIEW_TIMEOUT, max_memory=settings.PREVIEW_MAX_MEMORY)
