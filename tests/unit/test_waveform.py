"""Waveforms: audiowaveform's JSON from a generated tone follows its envelope; the PNG draws it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from processing.codes import ErrorCode
from processing.errors import Rejected
from processing.waveform import WaveformSpec, make_waveform


@pytest.fixture(scope="module")
def tone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 s of 440 Hz: silent, then at 3/4 of full scale, then at 3/8 (sine's own amplitude is 1/8)."""
    path = tmp_path_factory.mktemp("waveform") / "tone.wav"
    envelope = "volume='if(lt(t,1),0,if(lt(t,2),6,3))':eval=frame"
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-f", "lavfi", "-i",
         "sine=frequency=440:sample_rate=44100:duration=3", "-af", envelope, "-c:a", "pcm_s16le", str(path)],
        check=True,
    )  # fmt: skip
    return path


def test_the_peaks_follow_the_tones_envelope(tone: Path, tmp_path: Path) -> None:
    board = make_waveform(tone, tmp_path, WaveformSpec(sample_rate=8000, max_points=300))
    data = json.loads(board.json.read_text())
    assert {k: data[k] for k in ("version", "channels", "sample_rate", "bits")} == {
        "version": 2, "channels": 1, "sample_rate": 8000, "bits": 8,
    }  # fmt: skip
    assert data["samples_per_pixel"] == 80  # 24,000 samples in at most 300 points
    assert data["length"] == 300 == len(data["data"]) // 2
    per_second = data["length"] // 3
    for second, amplitude in enumerate((0.0, 0.75, 0.375)):
        pairs = data["data"][2 * (second * per_second + 5) : 2 * ((second + 1) * per_second - 5)]
        highs, lows = pairs[1::2], pairs[::2]
        assert max(highs) == pytest.approx(amplitude * 128, abs=3), (second, max(highs))
        assert min(lows) == pytest.approx(-amplitude * 128, abs=3), (second, min(lows))
    assert not (tmp_path / "waveform.pcm").exists()

    with Image.open(board.png) as png:
        assert (png.format, png.size) == ("PNG", (800, 120))
        alpha = png.getchannel("A")
        column_heights = [sum(1 for y in range(120) if alpha.getpixel((x, y))) for x in (100, 400, 700)]
    assert column_heights[0] <= 2 and column_heights[1] > 1.6 * column_heights[2] > 40, column_heights


def test_a_file_that_does_not_decode_is_rejected_and_leaves_nothing(tmp_path: Path) -> None:
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\xff" * 200)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(Rejected) as caught:
        make_waveform(broken, out)
    assert caught.value.code == ErrorCode.CORRUPT_FILE
    assert list(out.iterdir()) == []
