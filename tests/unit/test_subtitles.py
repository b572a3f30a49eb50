"""Embedded text subtitles to WebVTT with their languages; a track that cannot be converted is skipped."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from processing.subtitles import extract, subtitle_streams

SRT = "1\n00:00:00,000 --> 00:00:01,000\n{}\n\n"


def run(*args: str) -> None:
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *args], check=True)


def probed(path: Path) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-of", "json", "-show_streams", str(path)], capture_output=True)
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def with_subtitles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("subs")
    (d / "en.srt").write_text(SRT.format("Hello"))
    (d / "fr.srt").write_text(SRT.format("Bonjour"))
    video = ["-f", "lavfi", "-i", "testsrc2=size=160x90:rate=5:duration=1"]
    subs = ["-i", str(d / "en.srt"), "-i", str(d / "fr.srt"), "-map", "0", "-map", "1", "-map", "2"]
    tags = ["-metadata:s:s:0", "language=eng", "-metadata:s:s:1", "language=fra"]
    x264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    run(*video, *subs, *x264, "-c:s", "mov_text", *tags, str(d / "a.mp4"))  # mov_text
    run(*video, *subs, *x264, "-c:s", "ass", *tags, str(d / "a.mkv"))  # ASS
    return {"mp4": d / "a.mp4", "mkv": d / "a.mkv"}


@pytest.mark.parametrize("name", ["mp4", "mkv"])
def test_each_text_track_becomes_webvtt_with_its_language(
    name: str, with_subtitles: dict[str, Path], tmp_path: Path
) -> None:
    src = with_subtitles[name]
    tracks, skipped = extract(src, tmp_path, subtitle_streams(probed(src)))
    assert skipped == []
    assert [t.language for t in tracks] == ["eng", "fra"]
    texts = [t.path.read_text() for t in tracks]
    assert all(text.startswith("WEBVTT") for text in texts)
    assert "Hello" in texts[0] and "Bonjour" in texts[1] and "00:00.000 --> 00:01.000" in texts[0]


def test_a_track_that_cannot_be_converted_is_skipped_and_the_others_kept(
    with_subtitles: dict[str, Path], tmp_path: Path
) -> None:
    src = with_subtitles["mp4"]
    streams = subtitle_streams(probed(src))
    # Faults a real file cannot be made to produce on demand here: a picture-based track (PGS) and a
    # "text" track whose stream is in fact the picture, so ffmpeg's WebVTT encoder refuses it.
    pgs = {**streams[1], "codec_name": "hdmv_pgs_subtitle"}
    broken = {**streams[0], "index": 0}
    tracks, skipped = extract(src, tmp_path, [streams[0], pgs, broken])
    assert [t.language for t in tracks] == ["eng"]
    assert [(s.codec, "picture" in s.reason) for s in skipped] == [("hdmv_pgs_subtitle", True), ("mov_text", False)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sub_0.vtt"]  # nothing half-written left
