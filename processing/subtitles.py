"""Embedded text subtitles extracted to WebVTT, one file per track, with its language.

Text codecs only (mov_text, SubRip, ASS/SSA, WebVTT): ffmpeg converts each to
WebVTT in its own supervised run through the adapter, so one track that cannot
be converted is skipped (and reported) without losing the others or the video.
Picture-based subtitles (DVD, PGS) are not text and are reported as skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from processing import ffmpeg, hls
from processing.errors import Rejected
from processing.ffmpeg import TranscodeError
from processing.video import MASTER_PLAYLIST, VideoSpec, _input

TEXT_CODECS = frozenset({"mov_text", "subrip", "srt", "ass", "ssa", "webvtt", "text"})
SUBS = "subs"  # the tracks' folder beside the rungs' under hls/
GROUP = "subs"  # the master's SUBTITLES group id
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")


@dataclass(frozen=True)
class Track:
    index: int  # the stream's index in the source
    language: str  # ISO 639 code from the container, "und" when it names none
    path: Path


@dataclass(frozen=True)
class Skipped:
    index: int
    codec: str
    reason: str


def subtitle_streams(probed: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in probed.get("streams", []) if s.get("codec_type") == "subtitle"]


def extract(
    src: Path, out_dir: Path, streams: list[dict[str, Any]], spec: VideoSpec | None = None
) -> tuple[list[Track], list[Skipped]]:
    """out_dir/sub_<n>.vtt for each text track; the tracks that could not be made, with why."""
    spec = spec or VideoSpec()
    tracks, skipped = [], []
    for number, stream in enumerate(streams):
        codec, index = str(stream.get("codec_name") or "unknown"), int(stream["index"])
        if codec not in TEXT_CODECS:
            skipped.append(Skipped(index, codec, "not a text subtitle (a picture-based format)"))
            continue
        path = out_dir / f"sub_{number}.vtt"
        output = _input(src, spec)[str(index)].output(str(path), scodec="webvtt", f="webvtt")
        try:
            ffmpeg.run(output, timeout=spec.thumbnail_timeout, stall_timeout=spec.thumbnail_timeout, binary=spec.ffmpeg)
        except (TranscodeError, Rejected) as exc:
            path.unlink(missing_ok=True)
            skipped.append(Skipped(index, codec, getattr(exc, "message", str(exc))))
            continue
        if not path.is_file() or not path.read_bytes().startswith(b"WEBVTT"):
            path.unlink(missing_ok=True)
            skipped.append(Skipped(index, codec, "the conversion wrote no WebVTT"))
            continue
        tracks.append(Track(index, language_of(stream), path))
    return tracks, skipped


def language_of(stream: dict[str, Any]) -> str:
    """The container's language tag if it looks like one (it is upload text: never trusted as is)."""
    language = str(stream.get("tags", {}).get("language") or "").strip()
    return language if _LANGUAGE.match(language) and language != "und" else "und"


def probe_streams(src: Path, spec: VideoSpec | None = None) -> list[dict[str, Any]]:
    spec = spec or VideoSpec()
    probed, _ = ffmpeg.probe(src, spec.formats, binary=spec.ffprobe, timeout=spec.probe_timeout, subject="video")
    return subtitle_streams(probed or {})


def add_to_hls(
    src: Path, hls_dir: Path, duration: float, spec: VideoSpec | None = None
) -> tuple[list[Track], list[Skipped]]:
    """Extract the text tracks into hls_dir/subs/, one media playlist each, and list them in the master
    as a SUBTITLES group that every variant names. Without tracks the ladder is left as it is."""
    streams = probe_streams(src, spec)
    if not streams:
        return [], []
    folder = hls_dir / SUBS
    folder.mkdir(exist_ok=True)
    tracks, skipped = extract(src, folder, streams, spec)
    if not tracks:
        folder.rmdir()
        return tracks, skipped
    media = []
    for number, track in enumerate(tracks):
        track.path.with_suffix(".m3u8").write_text(hls.subtitle_playlist(track.path.name, duration))
        name = f"{track.language} {number + 1}" if track.language == "und" else track.language
        media.append((name, track.language, f"{SUBS}/{track.path.stem}.m3u8"))
    master = hls_dir / MASTER_PLAYLIST
    master.write_text(hls.with_subtitles(master.read_text(), media))
    return tracks, skipped
