"""The video core on small clips that ffmpeg generates here: probe, thumbnail, the HLS ladder,
bad inputs, and a stuck or killed ffmpeg. No Django and no services needed."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

from processing.errors import Rejected
from processing.hls import content_type, rewrite_playlist
from processing.video import (
    HlsResult,
    TranscodeError,
    Variant,
    VideoInfo,
    VideoSpec,
    make_thumbnail,
    plan_ladder,
    probe_video,
    transcode_hls,
)
from tests.helpers import ffmpeg_children

SPEC = VideoSpec()


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *args], check=True)


def clip(
    path: Path,
    *,
    size: str = "320x180",
    seconds: float = 3,
    rate: int = 25,
    audio: bool = True,
    video_codec: tuple[str, ...] = ("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"),
    audio_codec: tuple[str, ...] = ("-c:a", "aac"),
    extra: tuple[str, ...] = (),
) -> Path:
    args = ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}:duration={seconds}"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}"]
    args += [*video_codec, *(audio_codec if audio else ()), *extra, str(path)]
    ffmpeg(*args)
    return path


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("clips")
    made = {
        "mp4": clip(d / "a.mp4"),
        "webm": clip(
            d / "a.webm",
            video_codec=("-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "300k"),
            audio_codec=("-c:a", "libopus"),
        ),
        # A camera-style MOV: Motion JPEG (full-range YUV) and PCM audio.
        "mov": clip(d / "a.mov", video_codec=("-c:v", "mjpeg", "-q:v", "5"), audio_codec=("-c:a", "pcm_s16le")),
        "noaudio": clip(d / "noaudio.mp4", audio=False),
        "p360": clip(d / "p360.mp4", size="640x360", seconds=2),
        "p1080": clip(d / "p1080.mp4", size="1920x1080", seconds=2),
        # 13 s at 10 fps: three segments (6 + 6 + 1) for little work.
        "long": clip(d / "long.mp4", seconds=13, rate=10),
    }
    # A phone shot held upright: stored landscape, with a rotation in the display matrix.
    stored = clip(d / "landscape.mp4", seconds=2)
    made["portrait"] = d / "portrait.mp4"
    ffmpeg("-i", str(stored), "-c", "copy", "-metadata:s:v:0", "rotate=90", str(made["portrait"]))
    # Red for the first second, blue after it: shows which frame the thumbnail took.
    made["redblue"] = d / "redblue.mp4"
    ffmpeg(
        "-f", "lavfi", "-i", "color=c=red:s=160x120:r=25:d=1", "-f", "lavfi", "-i", "color=c=blue:s=160x120:r=25:d=2",
        "-filter_complex", "[0:v][1:v]concat=n=2:v=1[v]", "-map", "[v]", "-c:v", "libx264", "-pix_fmt", "yuv420p",
        str(made["redblue"]),
    )  # fmt: skip
    made["short"] = d / "short.mp4"
    ffmpeg("-f", "lavfi", "-i", "color=c=red:s=160x120:r=25:d=0.5", "-c:v", "libx264", str(made["short"]))
    return made


@pytest.fixture(scope="module")
def transcoded(clips: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], HlsResult]:
    done: dict[str, HlsResult] = {}

    def get(name: str) -> HlsResult:
        if name not in done:
            out = tmp_path_factory.mktemp("hls") / name
            done[name] = transcode_hls(clips[name], out, probe_video(clips[name]))
        return done[name]

    return get


def master_variants(master: Path) -> list[dict[str, str]]:
    """EXT-X-STREAM-INF attributes of each variant, with its URI under "uri"."""
    lines = master.read_text().splitlines()
    variants = []
    for i, line in enumerate(lines):
        if line.startswith("#EXT-X-STREAM-INF:"):
            attrs = dict(re.findall(r'([A-Z-]+)=("[^"]*"|[^,]*)', line.split(":", 1)[1]))
            variants.append({k: v.strip('"') for k, v in attrs.items()} | {"uri": lines[i + 1]})
    return variants


def extinf(playlist: Path) -> list[float]:
    return [float(m) for m in re.findall(r"^#EXTINF:([0-9.]+),", playlist.read_text(), re.M)]


# --- probe -----------------------------------------------------------------------------------


def test_probe_reads_an_h264_mp4_with_audio(clips: dict[str, Path]) -> None:
    info = probe_video(clips["mp4"])
    assert (info.width, info.height, info.rotation) == (320, 180, 0)
    assert info.duration == pytest.approx(3, abs=0.1)
    assert info.fps == pytest.approx(25)
    assert info.frames == 75
    assert (info.video_codec, info.audio_codec, info.has_audio) == ("h264", "aac", True)
    assert info.metadata()["has_audio"] is True


@pytest.mark.parametrize(
    ("name", "video_codec", "audio_codec"),
    [("webm", "vp9", "opus"), ("mov", "mjpeg", "pcm_s16le"), ("noaudio", "h264", None)],
)
def test_probe_reads_other_containers(clips: dict[str, Path], name: str, video_codec: str, audio_codec: str) -> None:
    info = probe_video(clips[name])
    assert (info.video_codec, info.audio_codec) == (video_codec, audio_codec)
    assert info.has_audio is (audio_codec is not None)
    assert (info.width, info.height) == (320, 180)


def test_probe_reports_a_rotated_clip_as_displayed(clips: dict[str, Path]) -> None:
    info = probe_video(clips["portrait"])
    assert info.rotation in (90, 270)
    assert (info.width, info.height) == (180, 320)


def test_truncated_mp4_is_corrupt(clips: dict[str, Path], tmp_path: Path) -> None:
    # ffmpeg writes the moov atom at the end unless told otherwise: cut it off.
    data = clips["mp4"].read_bytes()
    (bad := tmp_path / "truncated.mp4").write_bytes(data[: len(data) // 2])
    with pytest.raises(Rejected) as caught:
        probe_video(bad)
    assert caught.value.code == "corrupt_file"
    assert "moov atom not found" in caught.value.detail


def test_mp4_with_a_cut_off_body_is_corrupt_and_leaves_nothing(tmp_path: Path) -> None:
    # Headers first (faststart), body cut at a third: probe passes, the decode runs dry.
    whole = clip(tmp_path / "whole.mp4", seconds=9, rate=10, extra=("-movflags", "+faststart"))
    data = whole.read_bytes()
    (cut := tmp_path / "cut.mp4").write_bytes(data[: len(data) // 3])
    info = probe_video(cut)
    assert info.duration == pytest.approx(9, abs=0.2)
    with pytest.raises(Rejected) as caught:
        transcode_hls(cut, tmp_path / "hls", info)
    assert caught.value.code == "corrupt_file"
    assert not (tmp_path / "hls").exists()


def test_audio_only_mp4_is_corrupt(tmp_path: Path) -> None:
    audio = tmp_path / "audio.mp4"
    ffmpeg("-f", "lavfi", "-i", "sine=duration=2", "-c:a", "aac", str(audio))
    with pytest.raises(Rejected) as caught:
        probe_video(audio)
    assert caught.value.code == "corrupt_file"


def test_random_bytes_are_corrupt(tmp_path: Path) -> None:
    # seeded, so no run can draw bytes that happen to look like a stream
    (noise := tmp_path / "noise.mp4").write_bytes(random.Random(0).randbytes(64 * 1024))
    with pytest.raises(Rejected) as caught:
        probe_video(noise)
    assert caught.value.code == "corrupt_file"


def test_a_playlist_named_mp4_is_refused_without_opening_what_it_names(tmp_path: Path) -> None:
    secret = tmp_path / "secret.ts"
    clip(secret, seconds=1, audio=False)
    playlist = f"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\nfile:{secret}\n#EXT-X-ENDLIST\n"
    (evil := tmp_path / "evil.mp4").write_text(playlist)
    with pytest.raises(Rejected) as caught:
        probe_video(evil)
    assert caught.value.code == "corrupt_file"
    assert "not on whitelist" in caught.value.detail


@pytest.mark.parametrize(
    "limits",
    [
        {"max_duration": 2.0},
        {"max_width": 300, "max_height": 300},
        {"max_pixels": 10_000},  # caught by the decoder's own pixel cap inside ffprobe
        {"max_fps": 24.0},
        {"max_frames": 50},
    ],
)
def test_a_clip_over_a_cap_is_too_large(clips: dict[str, Path], limits: dict[str, float]) -> None:
    with pytest.raises(Rejected) as caught:
        probe_video(clips["mp4"], replace(SPEC, **limits))
    assert caught.value.code == "too_large"
    assert caught.value.message.startswith("The video")


def test_size_caps_apply_either_way_round(clips: dict[str, Path]) -> None:
    info = probe_video(clips["portrait"], replace(SPEC, max_width=320, max_height=180))
    assert (info.width, info.height) == (180, 320)


# --- ladder plan (pure) ----------------------------------------------------------------------------


def info_of(width: int, height: int, **changes: object) -> VideoInfo:
    info = VideoInfo(
        duration=10.0, width=width, height=height, fps=30.0, frames=300, video_codec="h264",
        audio_codec="aac", rotation=0, container="mov", video_stream=0, audio_stream=1,
    )  # fmt: skip
    return replace(info, **changes)


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((1920, 1080), [("480p", 854, 480), ("720p", 1280, 720), ("1080p", 1920, 1080)]),  # 1080p only from 1080p
        ((1080, 1920), [("480p", 480, 854), ("720p", 720, 1280), ("1080p", 1080, 1920)]),  # portrait: short side
        ((1920, 1078), [("480p", 854, 480), ("720p", 1282, 720)]),  # just under 1080p: no 1080p rung
        ((1440, 1080), [("480p", 640, 480), ("720p", 960, 720), ("1080p", 1440, 1080)]),
        ((1280, 720), [("480p", 854, 480), ("720p", 1280, 720)]),
        ((1000, 600), [("480p", 800, 480)]),  # nothing above the source
        ((641, 361), [("360p", 640, 360)]),  # below the lowest rung: one rendition, even, not upscaled
    ],
)
def test_plan_ladder(size: tuple[int, int], expected: list[tuple[str, int, int]]) -> None:
    assert [(r.name, r.width, r.height) for r in plan_ladder(info_of(*size), SPEC)] == expected


def test_a_rendition_below_the_ladder_gets_fewer_bits() -> None:
    (small,) = plan_ladder(info_of(320, 180), SPEC)
    assert small.video_bitrate < SPEC.ladder[0].video_bitrate


# --- HLS ---------------------------------------------------------------------------------


EXPECTED_LADDERS = {
    "mp4": [("180p", 320, 180)],
    "webm": [("180p", 320, 180)],
    "mov": [("180p", 320, 180)],
    "noaudio": [("180p", 320, 180)],
    "portrait": [("180p", 180, 320)],
    "p360": [("360p", 640, 360)],
    "p1080": [("480p", 854, 480), ("720p", 1280, 720), ("1080p", 1920, 1080)],
}


@pytest.mark.parametrize("name", list(EXPECTED_LADDERS))
def test_hls_plays_every_variant(name: str, clips: dict[str, Path], transcoded: Callable[[str], HlsResult]) -> None:
    result = transcoded(name)
    has_audio = probe_video(clips[name]).has_audio
    assert [(r.name, r.width, r.height) for r in result.renditions] == EXPECTED_LADDERS[name]

    variants = master_variants(result.master)
    assert [v["uri"] for v in variants] == [r.playlist for r in result.renditions]
    for variant, rendition in zip(variants, result.renditions, strict=True):
        assert variant["RESOLUTION"] == f"{rendition.width}x{rendition.height}"
        assert int(variant["BANDWIDTH"]) >= rendition.video_bitrate
        codecs = variant["CODECS"].split(",")
        assert codecs[0].startswith("avc1.")
        assert ("mp4a.40.2" in codecs) is has_audio

    # What a player sees: one program per variant, H.264 (+ AAC) at the planned size.
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-of", "json", "-show_programs", str(result.master)],
        capture_output=True, check=True, text=True,
    )  # fmt: skip
    programs = json.loads(probe.stdout)["programs"]
    assert len(programs) == len(result.renditions)
    for program, rendition in zip(programs, result.renditions, strict=True):
        kinds = {s["codec_type"]: s for s in program["streams"]}
        assert kinds["video"]["codec_name"] == "h264"
        assert (kinds["video"]["width"], kinds["video"]["height"]) == (rendition.width, rendition.height)
        assert (kinds.get("audio", {}).get("codec_name") == "aac") is has_audio
    # And every stream of every variant decodes to the end without an error.
    decode = subprocess.run(
        ["ffmpeg", "-v", "error", "-nostdin", "-i", str(result.master), "-map", "0", "-f", "null", "-"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert decode.returncode == 0 and decode.stderr == ""


def test_hls_output_has_no_metadata_and_only_expected_files(transcoded: Callable[[str], HlsResult]) -> None:
    result = transcoded("p1080")
    files = [str(p) for p in result.files()]
    assert "master.m3u8" in files and "480p/index.m3u8" in files and "720p/seg_00000.ts" in files
    assert all(re.fullmatch(r"master\.m3u8|\d+p/(index\.m3u8|seg_\d{5}\.ts)", f) for f in files), files
    assert {content_type(f) for f in files} == {"application/vnd.apple.mpegurl", "video/mp2t"}


def test_the_first_segments_are_short_then_six_seconds_aligned_across_renditions(
    clips: dict[str, Path], tmp_path: Path
) -> None:
    spec = replace(SPEC, ladder=(Variant(90, 200_000, 64_000), Variant(180, 400_000, 64_000)))
    info = probe_video(clips["long"], spec)
    seen: list[float] = []
    result = transcode_hls(clips["long"], tmp_path / "hls", info, spec, seen.append)
    assert [r.name for r in result.renditions] == ["90p", "180p"]
    durations, cuts = [], []
    for rendition in result.renditions:
        playlist = result.out_dir / rendition.playlist
        assert "#EXT-X-TARGETDURATION:6\n" in playlist.read_text()
        durations.append(extinf(playlist))
        cuts.append(segment_starts(result.out_dir / rendition.name))
    assert durations[0] == pytest.approx([2, 2, 2, 6, 1], abs=0.11)
    assert durations[1] == durations[0]  # keyframes at the same instants in both renditions
    assert cuts[1] == cuts[0] and len(cuts[0]) == 5  # and the segments start on the same frames
    # Progress only rises, stays in 0..1 and ends at 1.
    assert seen and seen[-1] == 1.0
    assert all(0 < a < b <= 1 for a, b in zip(seen, seen[1:], strict=False))


def test_without_lead_segments_every_segment_is_six_seconds(clips: dict[str, Path], tmp_path: Path) -> None:
    spec = replace(SPEC, ladder=(Variant(90, 200_000, 64_000),), first_segment_seconds=0)
    result = transcode_hls(clips["long"], tmp_path / "hls", probe_video(clips["long"], spec), spec)
    assert extinf(result.out_dir / result.renditions[0].playlist) == pytest.approx([6, 6, 1], abs=0.11)


def test_a_fast_source_gets_no_keyframes_but_the_forced_ones(tmp_path: Path) -> None:
    """At 60 fps x264's default interval (250 frames) would add a keyframe ~4.2 s after each forced one, and
    with 2 s lead segments the muxer would cut there too: keyint=infinite leaves only the forced ones."""
    fast = clip(tmp_path / "fast.mp4", size="160x90", seconds=14, rate=60, audio=False)
    spec = replace(SPEC, ladder=(Variant(90, 200_000),))
    result = transcode_hls(fast, tmp_path / "hls", probe_video(fast, spec), spec)
    assert extinf(result.out_dir / result.renditions[0].playlist) == pytest.approx([2, 2, 2, 6, 2], abs=0.02)
    keyframes = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v", "-skip_frame", "nokey", "-show_entries",
         "frame=pts_time", "-of", "csv=p=0", str(result.out_dir / result.renditions[0].playlist)],
        capture_output=True, check=True, text=True,
    ).stdout.split()  # fmt: skip
    assert len(keyframes) == 5  # one per segment


def segment_starts(rung: Path) -> list[str]:
    """The first video timestamp of each segment of a rung, as ffprobe reads it."""
    starts = []
    for segment in sorted(rung.glob("seg_*.ts")):
        probe = subprocess.run(
            ["ffprobe", "-v", "error", "-select_streams", "v", "-read_intervals", "%+#1", "-show_entries",
             "frame=pts_time,key_frame", "-of", "json", str(segment)],
            capture_output=True, check=True, text=True,
        )  # fmt: skip
        first = json.loads(probe.stdout)["frames"][0]
        assert first["key_frame"] == 1, segment  # every segment starts on a keyframe
        starts.append(first["pts_time"])
    return starts


def test_frame_rate_above_the_output_cap_is_reduced(tmp_path: Path) -> None:
    fast = clip(tmp_path / "fast.mp4", seconds=1, rate=50, audio=False)
    result = transcode_hls(fast, tmp_path / "hls", probe_video(fast), replace(SPEC, max_output_fps=25))
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-of", "json", "-count_frames", "-show_streams", str(result.master)],
        capture_output=True, check=True, text=True,
    )  # fmt: skip
    (stream,) = json.loads(probe.stdout)["streams"]
    assert stream["avg_frame_rate"] == "25/1"
    assert int(stream["nb_read_frames"]) == 25


# --- thumbnail -------------------------------------------------------------------------------


def colour_at_centre(path: Path) -> tuple[int, int, int]:
    with Image.open(path) as image:
        assert image.format == "WEBP"
        assert "exif" not in image.info
        return image.convert("RGB").getpixel((image.width // 2, image.height // 2))  # type: ignore[return-value]


def test_thumbnail_is_the_frame_at_one_second(clips: dict[str, Path], tmp_path: Path) -> None:
    make_thumbnail(clips["redblue"], thumb := tmp_path / "thumb.webp", probe_video(clips["redblue"]))
    red, _, blue = colour_at_centre(thumb)
    assert blue > 200 and red < 60


def test_thumbnail_of_a_clip_shorter_than_a_second_is_its_first_frame(clips: dict[str, Path], tmp_path: Path) -> None:
    make_thumbnail(clips["short"], thumb := tmp_path / "thumb.webp", probe_video(clips["short"]))
    red, _, blue = colour_at_centre(thumb)
    assert red > 200 and blue < 60


def test_thumbnail_of_a_rotated_phone_clip_is_upright(clips: dict[str, Path], tmp_path: Path) -> None:
    make_thumbnail(clips["portrait"], thumb := tmp_path / "thumb.webp", probe_video(clips["portrait"]))
    with Image.open(thumb) as image:
        assert image.width < image.height
        assert image.size == (180, 320)  # never upscaled


def test_thumbnail_is_bounded(clips: dict[str, Path], tmp_path: Path) -> None:
    info = probe_video(clips["p1080"])
    make_thumbnail(clips["p1080"], big := tmp_path / "big.webp", info)
    make_thumbnail(clips["p1080"], small := tmp_path / "small.webp", info, size=150)
    with Image.open(big) as image:
        assert image.size == (640, 360)
    with Image.open(small) as image:
        assert image.size == (150, 84)


# --- a stuck or killed ffmpeg ----------------------------------------------------------------


@pytest.fixture
def slow(clips: dict[str, Path]) -> tuple[Path, VideoInfo, VideoSpec]:
    """An encode that takes seconds (x264 at its slowest), so there is time to interfere."""
    spec = replace(SPEC, preset="veryslow", x264_params="")
    return clips["long"], probe_video(clips["long"], spec), spec


def test_timeout_kills_ffmpeg_and_leaves_nothing(slow: tuple[Path, VideoInfo, VideoSpec], tmp_path: Path) -> None:
    src, info, spec = slow
    with pytest.raises(TranscodeError) as caught:
        transcode_hls(src, tmp_path / "hls", info, replace(spec, timeout=0.5))
    assert caught.value.reason == "timeout"
    assert "took longer than the limit" in caught.value.message
    assert "ffmpeg" in caught.value.detail
    assert list(tmp_path.iterdir()) == []
    assert ffmpeg_children() == []


def test_watchdog_kills_an_ffmpeg_that_makes_no_progress(clips: dict[str, Path], tmp_path: Path) -> None:
    # A FIFO nobody writes to: ffmpeg blocks on its input forever, as on a hung mount.
    os.mkfifo(fifo := tmp_path / "stuck.mp4")
    info = probe_video(clips["mp4"])
    with pytest.raises(TranscodeError) as caught:
        transcode_hls(fifo, tmp_path / "hls", info, replace(SPEC, stall_timeout=1.0))
    assert caught.value.reason == "stalled"
    assert not (tmp_path / "hls").exists()
    assert ffmpeg_children() == []


def test_an_error_in_on_progress_stops_ffmpeg(slow: tuple[Path, VideoInfo, VideoSpec], tmp_path: Path) -> None:
    src, info, spec = slow
    (out := tmp_path / "hls").mkdir()  # the caller's own folder: kept, but emptied

    def cancel(fraction: float) -> None:
        raise KeyboardInterrupt  # what a worker's job timeout or a shutdown looks like

    with pytest.raises(KeyboardInterrupt):
        transcode_hls(src, out, info, spec, cancel)
    assert out.is_dir() and list(out.iterdir()) == []
    assert ffmpeg_children() == []


def test_a_killed_ffmpeg_is_a_transient_error(slow: tuple[Path, VideoInfo, VideoSpec], tmp_path: Path) -> None:
    src, info, spec = slow
    killed: list[int] = []

    def kill_it(fraction: float) -> None:
        # From outside, as the OOM killer would; the caller must see a retryable error.
        for pid in ffmpeg_children():
            if not killed:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)

    with pytest.raises(TranscodeError) as caught:
        transcode_hls(src, tmp_path / "hls", info, spec, kill_it)
    assert killed
    assert caught.value.reason == "killed"
    assert "SIGKILL" in caught.value.message
    assert list(tmp_path.iterdir()) == []
    assert ffmpeg_children() == []


def test_thumbnail_failure_leaves_no_file(tmp_path: Path, clips: dict[str, Path]) -> None:
    info = replace(probe_video(clips["mp4"]), video_stream=7)  # a stream that is not there
    with pytest.raises(TranscodeError):
        make_thumbnail(clips["mp4"], thumb := tmp_path / "thumb.webp", info)
    assert not thumb.exists()


def test_transcode_refuses_a_folder_that_is_not_empty(clips: dict[str, Path], tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("x")
    with pytest.raises(ValueError, match="not empty"):
        transcode_hls(clips["mp4"], tmp_path, probe_video(clips["mp4"]))
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_progress_is_throttled_and_reported_on_the_callers_thread(
    slow: tuple[Path, VideoInfo, VideoSpec], tmp_path: Path
) -> None:
    src, info, spec = slow
    calls: list[tuple[float, float, int]] = []

    def record(fraction: float) -> None:
        calls.append((time.monotonic(), fraction, threading.get_ident()))

    transcode_hls(src, tmp_path / "hls", info, replace(spec, progress_interval=1.0), record)
    assert calls[-1][1] == 1.0
    assert {thread for _, _, thread in calls} == {threading.get_ident()}  # Django's connections are per thread
    ticks = [t for t, _, _ in calls[:-1]]  # the final 1.0 is reported unthrottled
    assert len(ticks) >= 1
    assert all(b - a >= 0.99 for a, b in zip(ticks, ticks[1:], strict=False))


# --- playlists for a private bucket --------------------------------------------------------------


def test_rewrite_master_points_variants_at_the_api(transcoded: Callable[[str], HlsResult]) -> None:
    result = transcoded("p1080")
    text = result.master.read_text()
    rewritten = rewrite_playlist(text, lambda uri: f"https://api.example/media/1/hls/{uri}")
    variants = [line for line in rewritten.splitlines() if line and not line.startswith("#")]
    assert variants == [f"https://api.example/media/1/hls/{r.playlist}" for r in result.renditions]
    tags = [line for line in text.splitlines() if line.startswith("#")]
    assert [line for line in rewritten.splitlines() if line.startswith("#")] == tags


def test_rewrite_media_playlist_signs_every_segment(transcoded: Callable[[str], HlsResult]) -> None:
    playlist = transcoded("p1080").out_dir / "720p" / "index.m3u8"
    seen: list[str] = []

    def presign(uri: str) -> str:
        seen.append(uri)
        return f"https://bucket.example/720p/{uri}?X-Amz-Signature=abc&X-Amz-Expires=3600"

    rewritten = rewrite_playlist(playlist.read_text(), presign)
    segments = [line for line in playlist.read_text().splitlines() if line.endswith(".ts")]
    assert seen == segments and segments
    assert "#EXT-X-ENDLIST" in rewritten
    assert all("X-Amz-Signature" in line for line in rewritten.splitlines() if line and not line.startswith("#"))


def test_rewrite_handles_uri_attributes_comments_and_crlf() -> None:
    text = (
        '#EXTM3U\r\n#EXT-X-VERSION:7\r\n#EXT-X-MAP:URI="init.mp4"\r\n'
        '#EXT-X-KEY:METHOD=AES-128,URI="key.bin",IV=0x1\r\n# a comment with URI="x"\r\n\r\n'
        "#EXTINF:6.0,\r\nseg 1.m4s\r\n#EXT-X-ENDLIST\r\n"
    )
    rewritten = rewrite_playlist(text, lambda uri: "/signed/" + uri.replace(" ", "%20"))
    assert rewritten.splitlines() == [
        "#EXTM3U",
        "#EXT-X-VERSION:7",
        '#EXT-X-MAP:URI="/signed/init.mp4"',
        '#EXT-X-KEY:METHOD=AES-128,URI="/signed/key.bin",IV=0x1',
        '# a comment with URI="x"',
        "",
        "#EXTINF:6.0,",
        "/signed/seg%201.m4s",
        "#EXT-X-ENDLIST",
    ]


@pytest.mark.parametrize("bad", ['https://x/"a', "https://x/a\n#EXT-X-ENDLIST", ""])
def test_rewrite_refuses_a_resolved_uri_that_would_inject_lines(bad: str) -> None:
    with pytest.raises(ValueError):
        rewrite_playlist("#EXTM3U\n#EXTINF:6,\na.ts\n", lambda uri: bad)


def test_rewrite_refuses_text_that_is_not_a_playlist() -> None:
    with pytest.raises(ValueError):
        rewrite_playlist("<html>", lambda uri: uri)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("master.m3u8", "application/vnd.apple.mpegurl"),
        ("720p/seg_00001.ts", "video/mp2t"),
        ("720p/seg_00001.M4S", "video/iso.segment"),
        ("init.mp4", "video/mp4"),
        ("thumb.webp", "image/webp"),
        ("README", "application/octet-stream"),
    ],
)
def test_content_types(name: str, expected: str) -> None:
    assert content_type(name) == expected
