"""Audio checks: ffprobe finds an audio stream and a duration, then one decode proves the file is whole.

Headers alone cannot tell a truncated MP3 (its length is estimated from the
bitrate) from a whole one, so the stream is decoded to the null muxer and the
length that decoded is compared with the length the headers claim.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from processing import formats
from processing.codes import ErrorCode
from processing.errors import Rejected

PROBE_TIMEOUT = 30  # seconds; ffprobe reads headers only
DECODE_TIMEOUT = 120  # seconds; decoding audio runs at hundreds of times realtime
# Uploads are hostile: only local files, and only the demuxers of the audio we accept, so a playlist
# or concat file named .mp3 cannot make ffmpeg open other files or the network (as in video.py).
SAFE_INPUT = ["-protocol_whitelist", "file", "-format_whitelist", ",".join(formats.decoders(formats.AUDIO))]


def _url(path: Path) -> str:
    return f"file:{path}"


def probe_audio(path: Path, *, ffprobe: str = "ffprobe", ffmpeg: str = "ffmpeg") -> dict[str, Any]:
    """Metadata of a playable audio file (duration, codec, bitrate, sample rate, channels)."""
    try:
        result = subprocess.run(
            [
                ffprobe,
                "-v",
                "error",
                *SAFE_INPUT,
                "-print_format",
                "json",
                "-show_format",
                "-show_streams",
                _url(path),
            ],  # fmt: skip
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        # a busy machine, not necessarily a bad file: transient, so the job layer retries it
        raise TimeoutError("ffprobe timed out reading an audio file") from exc
    if result.returncode != 0:
        raise Rejected(
            ErrorCode.CORRUPT_FILE, "The audio file is damaged or not a format we can play.", result.stderr[-2000:]
        )
    info = json.loads(result.stdout or "{}")
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
    decoded = _decoded_seconds(path, ffmpeg)
    if decoded < duration * 0.9 - 0.1:
        raise Rejected(
            ErrorCode.CORRUPT_FILE,
            "The audio file is incomplete: it ends before its stated length.",
            f"headers say {duration:.3f}s, {decoded:.3f}s decoded",
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


def _is_cover_art(stream: dict[str, Any]) -> bool:
    return bool(stream.get("disposition", {}).get("attached_pic"))


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _decoded_seconds(path: Path, ffmpeg: str) -> float:
    """How many seconds of the first audio stream decode (ffmpeg's own progress report)."""
    try:
        result = subprocess.run(
            [
                ffmpeg,
                "-nostdin",
                "-v",
                "error",
                *SAFE_INPUT,
                "-i",
                _url(path),
                "-map",
                "0:a:0",
                "-f",
                "null",
                "-progress",
                "pipe:1",
                "-",
            ],
            capture_output=True,
            text=True,
            timeout=DECODE_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise TimeoutError("decoding an audio file timed out") from exc  # transient, as above
    times = [line.split("=", 1)[1] for line in result.stdout.splitlines() if line.startswith("out_time_us=")]
    try:
        return max(int(t) for t in times if t.strip().lstrip("-").isdigit()) / 1_000_000
    except ValueError:
        return 0.0
