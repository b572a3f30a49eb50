"""Embedded text subtitles to WebVTT with their languages; a track that cannot be converted is skipped."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from processing.subtitles import add_to_hls, extract, subtitle_streams
from processing.video import probe_video, transcode_hls

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


def test_the_tracks_join_the_hls_master_as_a_subtitles_group(with_subtitles: dict[str, Path], tmp_path: Path) -> None:
    src = with_subtitles["mp4"]
    info = probe_video(src)
    result = transcode_hls(src, tmp_path / "hls", info)
    tracks, skipped = add_to_hls(src, result.out_dir, info.duration)
    assert ([t.language for t in tracks], skipped) == (["eng", "fra"], [])
    master = result.master.read_text()
    assert 'TYPE=SUBTITLES,GROUP-ID="subs",NAME="eng",LANGUAGE="eng"' in master
    assert 'LANGUAGE="fra",DEFAULT=NO,AUTOSELECT=YES,URI="subs/sub_1.m3u8"' in master
    assert all('SUBTITLES="subs"' in line for line in master.splitlines() if line.startswith("#EXT-X-STREAM-INF"))
    # Each track's playlist opens in ffprobe (its hls demuxer) as one WebVTT stream.
    for name in ("sub_0.m3u8", "sub_1.m3u8"):
        (stream,) = probed(result.out_dir / "subs" / name)["streams"]
        assert stream["codec_name"] == "webvtt"
    assert {"subs/sub_0.vtt", "subs/sub_0.m3u8", "subs/sub_1.vtt", "subs/sub_1.m3u8"} <= {
        p.as_posix() for p in result.files()
    }


def test_a_video_without_subtitles_keeps_its_master_as_is(tmp_path: Path) -> None:
    src = tmp_path / "plain.mp4"
    run(
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=160x90:rate=5:duration=1",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        str(src),
    )
    result = transcode_hls(src, tmp_path / "hls", probe_video(src))
    before = result.master.read_text()
    assert add_to_hls(src, result.out_dir, 1.0) == ([], [])
    assert result.master.read_text() == before and not (result.out_dir / "subs").exists()
