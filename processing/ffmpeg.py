"""The one adapter through which audio and video run ffprobe and ffmpeg.

- Command lines are built with ffmpeg-python (`.compile()` gives the argument
  list; it never runs anything itself): no shell, and user text never reaches
  an argument (inputs are `file:` URLs of our own spool files).
- Every input is opened with a protocol allow-list (`file` only) and a
  demuxer allow-list (the decoders of the formats table), so an HLS or concat
  playlist named `.mp4` cannot make ffmpeg open other files or the network.
- `run` supervises one ffmpeg: a wall-clock timeout, a no-progress watchdog,
  progress callbacks from `-progress`, the process group killed on every way
  out, and a bounded stderr tail turned into a short message
  (`TranscodeError`, which the job layer retries) with the full text kept in
  `detail`. Decoding errors in the tail are the input's fault: `Rejected`.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import queue
import re
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import ffmpeg

from processing.codes import ErrorCode
from processing.errors import Rejected

FFMPEG = "ffmpeg"
FFPROBE = "ffprobe"

ProgressCallback = Callable[[float], None]


class TranscodeError(Exception):
    """ffmpeg failed for a reason that is not the input's fault; the caller retries."""

    def __init__(self, message: str, detail: str = "", reason: str = "failed") -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail  # full technical text, for moderators only
        self.reason = reason  # "timeout", "stalled", "killed" or "failed"


def file_url(path: Path) -> str:
    # An explicit protocol: a name like "x:y.mp4" or "-i" is never read as a URL or an option.
    return "file:" + str(Path(path).resolve())


def guards(formats: tuple[str, ...], max_pixels: int | None = None) -> dict[str, Any]:
    """The input options every run gets: the allow-lists (and the decoders' pixel cap)."""
    options: dict[str, Any] = {"protocol_whitelist": "file", "format_whitelist": ",".join(formats)}
    if max_pixels is not None:
        options["max_pixels"] = max_pixels
    return options


def safe_input(path: Path, formats: tuple[str, ...], *, max_pixels: int | None = None, **options: Any) -> Any:
    """An ffmpeg-python input of a local upload, guarded."""
    return ffmpeg.input(file_url(path), **options, **guards(formats, max_pixels))


def probe(
    path: Path,
    formats: tuple[str, ...],
    *,
    binary: str = FFPROBE,
    timeout: float = 30.0,
    subject: str = "file",
    max_pixels: int | None = None,
) -> tuple[dict[str, Any] | None, str]:
    """ffprobe's streams and format of a file (None when it cannot read it) and its error output."""
    cmd = [binary, "-hide_banner", "-loglevel", "error"]
    cmd += [arg for key, value in guards(formats, max_pixels).items() for arg in (f"-{key}", str(value))]
    cmd += ["-of", "json", "-show_format", "-show_streams", file_url(path)]
    try:
        done = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise TranscodeError(f"Reading the {subject} took too long.", str(exc), reason="timeout") from exc
    errors = done.stderr.decode("utf-8", "replace")[-_TAIL_CHARS:]
    try:
        data = json.loads(done.stdout or b"{}") if done.returncode == 0 else None
    except ValueError:
        data = None
    return (data if isinstance(data, dict) else None), errors


_TAIL_CHARS = 64_000
_TRANSIENT = (
    (re.compile(r"No space left on device", re.I), "The server ran out of disk space while converting the {}."),
    (re.compile(r"Cannot allocate memory|Out of memory", re.I), "The server ran out of memory converting the {}."),
)
_CORRUPT = re.compile(
    r"Invalid data found when processing input|moov atom not found|could not find codec parameters|"
    r"Invalid NAL unit|error while decoding|decode_slice_header error|no frame!|EBML header parsing failed|"
    r"corrupt",
    re.I,
)


class _Tail:
    """The last ~64 kB of a stream, read on a thread so ffmpeg never blocks on a full pipe."""

    def __init__(self) -> None:
        self._lines: deque[str] = deque()
        self._size = 0

    def read(self, stream: IO[bytes]) -> None:
        for raw in stream:
            line = raw.decode("utf-8", "replace").rstrip()[:2000]
            self._lines.append(line)
            self._size += len(line) + 1
            while self._size > _TAIL_CHARS and len(self._lines) > 1:
                self._size -= len(self._lines.popleft()) + 1

    def text(self) -> str:
        return "\n".join(self._lines)


def _read_progress(stream: IO[bytes], updates: queue.Queue[tuple[int, int] | None]) -> None:
    """Turn `-progress` blocks into (frame, out_time_us) updates; None once ffmpeg closes it."""
    frame = out_us = 0
    try:
        for raw in stream:
            key, _, value = raw.decode("ascii", "replace").strip().partition("=")
            if key == "frame" and value.isdigit():
                frame = int(value)
            elif key == "out_time_us" and value.lstrip("-").isdigit():
                out_us = max(0, int(value))
            elif key == "progress":
                updates.put((frame, out_us))
    finally:
        updates.put(None)


def run(
    stream: Any,
    *,
    timeout: float,
    stall_timeout: float,
    duration: float | None = None,
    on_progress: ProgressCallback | None = None,
    interval: float = 0.25,
    binary: str = FFMPEG,
    subject: str = "video",
) -> float:
    """Run the ffmpeg-python output `stream` to completion and return how far its output got (seconds).

    Kills it when it exceeds `timeout`, when neither its frame count nor its output time has
    advanced for `stall_timeout`, or when anything (on_progress included) raises. on_progress
    is called on this thread, with a rising fraction, at most once per `interval`. `subject`
    ("video", "audio") names the input in messages.
    """
    cmd = stream.compile(cmd=binary)
    # the supervisor's own options, before the inputs: quiet, no stdin, machine-readable progress
    cmd[1:1] = ["-hide_banner", "-nostdin", "-loglevel", "error", "-nostats", "-progress", "pipe:1"]
    # Its own session: one killpg reaches ffmpeg and anything it might start.
    proc = subprocess.Popen(
        cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    assert proc.stdout is not None and proc.stderr is not None
    updates: queue.Queue[tuple[int, int] | None] = queue.Queue()
    tail = _Tail()
    readers = [
        threading.Thread(target=_read_progress, args=(proc.stdout, updates), daemon=True),
        threading.Thread(target=tail.read, args=(proc.stderr,), daemon=True),
    ]
    for reader in readers:
        reader.start()
    stopped = ""
    frame = out_us = 0
    reported = 0.0
    start = last_move = time.monotonic()
    last_report = -math.inf
    try:
        while True:
            try:
                update = updates.get(timeout=0.1)
            except queue.Empty:
                update = (frame, out_us)
            now = time.monotonic()
            if update is None:
                break  # stdout closed: ffmpeg is exiting
            if update[0] > frame or update[1] > out_us:
                frame, out_us = max(frame, update[0]), max(out_us, update[1])
                last_move = now
                if on_progress and duration and now - last_report >= interval:
                    # 1.0 is the caller's to report, once the output is checked.
                    fraction = min(0.99, out_us / (duration * 1e6))
                    if fraction > reported:
                        on_progress(fraction)
                        reported, last_report = fraction, now
            if now - start > timeout:
                stopped = "timeout"
                break
            if now - last_move > stall_timeout:
                stopped = "stalled"
                break
        if stopped:
            _kill(proc)
        else:
            try:
                proc.wait(timeout=max(1.0, timeout - (time.monotonic() - start)))
            except subprocess.TimeoutExpired:
                stopped = "timeout"
                _kill(proc)
    finally:
        _kill(proc)
        for reader in readers:
            reader.join(timeout=5)
        proc.stdout.close()
        proc.stderr.close()

    errors = tail.text()
    detail = f"$ {' '.join(cmd)}\nexit status {proc.returncode}\n{errors}".strip()
    if stopped == "timeout":
        raise TranscodeError(
            f"Converting the {subject} took longer than the limit ({timeout:g} s) and was stopped.", detail, stopped
        )
    if stopped == "stalled":
        raise TranscodeError(
            f"Converting the {subject} made no progress for {stall_timeout:g} s and was stopped.", detail, stopped
        )
    if proc.returncode < 0:
        name = signal.Signals(-proc.returncode).name if -proc.returncode in signal.valid_signals() else "?"
        raise TranscodeError(f"The {subject} converter was stopped unexpectedly ({name}).", detail, "killed")
    if proc.returncode != 0:
        for pattern, message in _TRANSIENT:
            if pattern.search(errors):
                raise TranscodeError(message.format(subject), detail)
        if _CORRUPT.search(errors):
            raise Rejected(ErrorCode.CORRUPT_FILE, f"The {subject} file is damaged or cannot be decoded.", detail)
        raise TranscodeError(f"The {subject} could not be converted (ffmpeg exit status {proc.returncode}).", detail)
    return out_us / 1e6


def _kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def output_of(streams: list[Any], filename: str, **options: Any) -> Any:
    """An ffmpeg-python output of several streams (the same one may be mapped more than once)."""
    return ffmpeg.output(*streams, filename, **options)
