"""The engines' configuration, read from settings at each call (tests override settings).

The engines in `processing/` know no Django: every tunable reaches them as a
spec object built here, the one place where settings meet them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings

from processing import archives, scan

if TYPE_CHECKING:  # Pillow and ffmpeg's engines load in workers only
    from processing import images, video


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


# Peak bitrates per rung height (bit/s): video, audio. Rungs not listed scale from 720p by pixels.
BITRATES = {
    240: (500_000, 64_000),
    360: (900_000, 96_000),
    480: (1_500_000, 96_000),
    720: (3_000_000, 128_000),
    1080: (6_000_000, 160_000),
    1440: (10_000_000, 192_000),
    2160: (16_000_000, 192_000),
}


def video_spec() -> video.VideoSpec:
    from processing import video

    ladder = tuple(
        video.Variant(height, *BITRATES.get(height, (int(3_000_000 * (height / 720) ** 2), 128_000)))
        for height in sorted(settings.VIDEO_LADDER)
    )
    return video.VideoSpec(
        ladder=ladder,
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
