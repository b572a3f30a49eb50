"""Storyboards: the frames players show while scrubbing.

One sprite sheet (WebP) holds a frame every `interval` seconds, tiled in rows
of `columns`; a WebVTT file gives each time range its tile as a
`sprite#xywh=x,y,w,h` media fragment, the format hls.js, video.js and Vidstack
read. A long video gets a longer interval so the sheet stays within
`max_tiles` (and within WebP's 16383 px). One supervised ffmpeg run (fps, scale,
tile) through the adapter decodes the clip once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from processing import ffmpeg
from processing.video import VideoInfo, VideoSpec, _fit, _input

SPRITE = "storyboard.webp"
VTT = "storyboard.vtt"


@dataclass(frozen=True)
class StoryboardSpec:
    interval: float = 5.0  # seconds between frames, at least
    tile_width: int = 160  # longest side of a tile; never upscaled
    columns: int = 10
    max_tiles: int = 100
    quality: int = 70


@dataclass(frozen=True)
class Storyboard:
    sprite: Path
    vtt: Path
    interval: float
    tiles: int
    tile_width: int
    tile_height: int


def plan(info: VideoInfo, spec: StoryboardSpec) -> tuple[float, int]:
    """The interval between frames and the number of tiles for a clip of this length."""
    interval = max(spec.interval, info.duration / spec.max_tiles)
    return interval, max(1, math.ceil(info.duration / interval))


def make_storyboard(
    src: Path, out_dir: Path, info: VideoInfo, spec: StoryboardSpec | None = None, video: VideoSpec | None = None
) -> Storyboard:
    """Write out_dir/storyboard.webp and out_dir/storyboard.vtt (the VTT names the sprite relatively)."""
    spec, video = spec or StoryboardSpec(), video or VideoSpec()
    interval, tiles = plan(info, spec)
    width, height = _fit(info.width, info.height, spec.tile_width)
    columns = min(spec.columns, tiles)
    rows = math.ceil(tiles / columns)
    sprite, vtt = out_dir / SPRITE, out_dir / VTT
    picture = (
        _input(src, video)[str(info.video_stream)]
        # a frame at each multiple of the interval; eof_action=pass keeps the one of a clip shorter than it
        .filter("fps", fps=f"1/{interval:.6f}", round="down", eof_action="pass")
        .filter("scale", width, height, flags="bicubic")
        .filter("setsar", 1)
        .filter("tile", f"{columns}x{rows}")
    )
    output = picture.output(str(sprite), vframes=1, vcodec="libwebp", quality=spec.quality, map_metadata=-1, f="webp")
    try:
        ffmpeg.run(
            output,
            timeout=video.thumbnail_timeout + info.duration,
            stall_timeout=video.stall_timeout,
            duration=info.duration,
            binary=video.ffmpeg,
        )
        vtt.write_text(webvtt(info.duration, interval, tiles, columns, width, height))
    except BaseException:
        sprite.unlink(missing_ok=True)
        vtt.unlink(missing_ok=True)
        raise
    return Storyboard(sprite, vtt, interval, tiles, width, height)


def webvtt(duration: float, interval: float, tiles: int, columns: int, width: int, height: int) -> str:
    cues = ["WEBVTT", ""]
    for index in range(tiles):
        start, end = index * interval, min((index + 1) * interval, duration)
        x, y = (index % columns) * width, (index // columns) * height
        cues += [f"{_timestamp(start)} --> {_timestamp(end)}", f"{SPRITE}#xywh={x},{y},{width},{height}", ""]
    return "\n".join(cues)


def _timestamp(seconds: float) -> str:
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    return f"{hours:02d}:{minutes:02d}:{millis / 1000:06.3f}"
