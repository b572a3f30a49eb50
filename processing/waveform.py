"""Audio waveforms: peaks in BBC audiowaveform's JSON format (version 2), and a small PNG.

peaks.js and wavesurfer.js read the JSON: `data` holds a (min, max) pair per
pixel of `samples_per_pixel` samples at `sample_rate`, as signed `bits`-bit
values. One supervised ffmpeg run through the adapter decodes the first audio
stream to mono 16-bit PCM at `sample_rate` in a file beside the output; the
standard library's `array` reads it (min/max over slices run in C: no numpy).
"""

from __future__ import annotations

import json
import math
from array import array
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw

from processing import audio
from processing.ffmpeg import FFMPEG, run, safe_input

JSON_NAME = "waveform.json"
PNG_NAME = "waveform.png"


@dataclass(frozen=True)
class WaveformSpec:
    sample_rate: int = 8000  # enough for an envelope; decoding at it is cheap
    max_points: int = 2000  # (min, max) pairs, whatever the length: samples_per_pixel grows instead
    min_samples_per_pixel: int = 32
    png_size: tuple[int, int] = (800, 120)
    colour: tuple[int, int, int, int] = (37, 99, 235, 255)
    timeout: float = audio.DECODE_TIMEOUT
    ffmpeg: str = FFMPEG


@dataclass(frozen=True)
class Waveform:
    json: Path
    png: Path
    peaks: dict[str, object]


def make_waveform(src: Path, out_dir: Path, spec: WaveformSpec | None = None) -> Waveform:
    """Write out_dir/waveform.json and out_dir/waveform.png; the PCM file in between is removed."""
    spec = spec or WaveformSpec()
    pcm_path, json_path, png_path = out_dir / "waveform.pcm", out_dir / JSON_NAME, out_dir / PNG_NAME
    decode = safe_input(src, audio.DEMUXERS)["a:0"].output(str(pcm_path), ac=1, ar=spec.sample_rate, f="s16le")
    try:
        run(decode, timeout=spec.timeout, stall_timeout=spec.timeout, binary=spec.ffmpeg, subject="audio")
        samples = array("h")
        samples.frombytes(pcm_path.read_bytes())
        data = peaks(samples, spec)
        json_path.write_text(json.dumps(data, separators=(",", ":")))
        draw_png(data["data"], spec).save(png_path, "PNG", optimize=True)  # type: ignore[arg-type]
    except BaseException:
        json_path.unlink(missing_ok=True)
        png_path.unlink(missing_ok=True)
        raise
    finally:
        pcm_path.unlink(missing_ok=True)
    return Waveform(json_path, png_path, data)


def peaks(samples: array, spec: WaveformSpec) -> dict[str, object]:
    """audiowaveform's JSON (version 2, one channel, 8 bits) of 16-bit samples."""
    per_pixel = max(spec.min_samples_per_pixel, math.ceil(len(samples) / spec.max_points))
    data: list[int] = []
    for start in range(0, len(samples), per_pixel):
        chunk = samples[start : start + per_pixel]
        data += [min(chunk) >> 8, max(chunk) >> 8]  # 16 to 8 bits: -32768..32767 to -128..127
    return {
        "version": 2,
        "channels": 1,
        "sample_rate": spec.sample_rate,
        "samples_per_pixel": per_pixel,
        "bits": 8,
        "length": len(data) // 2,
        "data": data,
    }


def draw_png(data: list[int], spec: WaveformSpec) -> Image.Image:
    """The envelope as vertical bars on a transparent background, one per column."""
    width, height = spec.png_size
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    pairs = len(data) // 2
    middle = (height - 1) / 2
    for x in range(width if pairs else 0):
        first, last = x * pairs // width, max(x * pairs // width + 1, (x + 1) * pairs // width)
        low = min(data[2 * i] for i in range(first, last))
        high = max(data[2 * i + 1] for i in range(first, last))
        draw.line([(x, middle - high / 128 * middle), (x, middle - low / 128 * middle)], fill=spec.colour)
    return image
