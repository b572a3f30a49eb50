"""Audio checks: ffprobe finds an audio stream and a duration, then one decode proves the file is whole.

Headers alone cannot tell a truncated MP3 (its length is estimated from the
bitrate) from a whole one, so the stream is decoded to the null muxer and the
length that decoded is compared with the length the headers claim.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from processing import formats
from processing.codes import ErrorCode
from processing.errors import Rejected
from processing.ffmpeg import FFMPEG, FFPROBE, ProgressCallback, TranscodeError, probe, run, safe_input

PROBE_TIMEOUT = 30  # seconds; ffprobe reads headers only
DECODE_TIMEOUT = 120  # seconds; decoding audio runs at hundreds of times realtime
# Uploads are hostile: only the demuxers of the audio formats we accept (processing.ffmpeg adds `file` only).
DEMUXERS = formats.decoders(formats.AUDIO)


def probe_audio(
    path: Path, *, ffprobe: str = FFPROBE, ffmpeg: str = FFMPEG, on_progress: ProgressCallback | None = None
) -> dict[str, Any]:
    """Metadata of a playable audio file (duration, codec, bitrate, sample rate, channels), once the
    whole file has decoded (`on_progress` follows the decode, 0..1)."""
    metadata = read_headers(path, ffprobe=ffprobe)
    check_whole(path, metadata["duration"], ffmpeg=ffmpeg, on_progress=on_progress)
    return metadata


def read_headers(path: Path, *, ffprobe: str = FFPROBE) -> dict[str, Any]:
    """The metadata from the headers alone (cheap: nothing decoded); Rejected when they are unusable."""
    # a timeout is a busy machine, not necessarily a bad file: TranscodeError, which the job layer retries
    info, errors = probe(path, DEMUXERS, binary=ffprobe, timeout=PROBE_TIMEOUT, subject="audio file")
    if info is None:
        raise Rejected(ErrorCode.CORRUPT_FILE, "The audio file is damaged or not a format we can play.", errors[-2000:])
    streams = [s for s in info.get("streams", []) if s.get("codec_type") == "audio"]
    fmt = info.get("format", {})
    duration = _number(fmt.get("duration")) or (_number(streams[0].get("duration")) if streams else None)
    if not streams:
        raise Rejected(ErrorCode.CORRUPT_FILE, "The file has no audio in it.", json.dumps(info)[:2000])
    moving = [s for s in info.get("streams", []) if s.get("codec_type") == "video" and not _is_cover_art(s)]
    if moving:
        # An MP4 film sniffs as an ISO media file like an M4A does; kept as audio it would skip the
        # video checks and be served as audio/mp4. Cover art (an attached picture) is fine.
        raise Rejected(
            ErrorCode.TYPE_MISMATCH,
            "The file contains video, not just audio; upload it as a video.",
            f"video streams: {[s.get('codec_name') for s in moving]}",
        )
    if not duration or duration <= 0:
        raise Rejected(
            ErrorCode.CORRUPT_FILE, "The audio file is damaged: its length cannot be read.", json.dumps(info)[:2000]
        )
    stream = streams[0]
    return {
        "duration": round(duration, 3),
        "codec": stream.get("codec_name"),
        "bitrate": int(_number(fmt.get("bit_rate")) or _number(stream.get("bit_rate")) or 0) or None,
        "sample_rate": int(_number(stream.get("sample_rate")) or 0) or None,
        "channels": stream.get("channels"),
        "container": fmt.get("format_name"),
    }


def check_whole(
    path: Path, duration: float, *, ffmpeg: str = FFMPEG, on_progress: ProgressCallback | None = None
) -> None:
    """Decode the first audio stream to its end: Rejected when it ends well before the headers' `duration`."""
    decoded = _decoded_seconds(path, ffmpeg, duration, on_progress)
    if decoded < duration * 0.9 - 0.1:
        raise Rejected(
            ErrorCode.CORRUPT_FILE,
            "The audio file is incomplete: it ends before its stated length.",
            f"headers say {duration:.3f}s, {decoded:.3f}s decoded",
        )


def _is_cover_art(stream: dict[str, Any]) -> bool:
    return bool(stream.get("disposition", {}).get("attached_pic"))


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _decoded_seconds(path: Path, binary: str, duration: float, on_progress: ProgressCallback | None) -> float:
    """How many seconds of the first audio stream decode (ffmpeg's own progress report)."""
    decode = safe_input(path, DEMUXERS)["a:0"].output("-", f="null")
    try:
        return run(
            decode,
            timeout=DECODE_TIMEOUT,
            stall_timeout=DECODE_TIMEOUT,
            binary=binary,
            subject="audio",
            duration=duration,
            on_progress=on_progress,
        )
    except TranscodeError as exc:
        if exc.reason != "failed":
            raise  # stopped (time limit, killed): transient, as above
        raise Rejected(ErrorCode.CORRUPT_FILE, "The audio file is damaged and cannot be decoded.", exc.detail) from exc
