"""The ffmpeg adapter's command lines: built by ffmpeg-python, every input guarded, the supervisor's options first."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from processing import ffmpeg, video
from processing.codes import ErrorCode
from processing.errors import Rejected


def test_every_input_is_a_file_url_with_the_allow_lists(tmp_path: Path) -> None:
    odd = tmp_path / "-i x:y.mp4"  # a name that would be an option or a URL if passed bare
    cmd = ffmpeg.safe_input(odd, ("mov", "matroska"), max_pixels=100, ss="1.000").output("out.webp").compile()
    position = cmd.index("-i")
    before = dict(zip(cmd[1:position:2], cmd[2:position:2], strict=True))
    assert before == {
        "-format_whitelist": "mov,matroska",
        "-max_pixels": "100",
        "-protocol_whitelist": "file",
        "-ss": "1.000",
    }
    assert cmd[position + 1] == f"file:{odd.resolve()}"


def test_the_hls_ladder_is_one_command_with_a_split_graph(tmp_path: Path) -> None:
    info = video.VideoInfo(10.0, 1920, 1080, 30.0, 300, "h264", "aac", 0, "mov", 0, 1)
    spec = video.VideoSpec()
    renditions = video.plan_ladder(info, spec)
    cmd = video._hls_output(tmp_path / "in.mp4", tmp_path / "out", info, spec, renditions).compile()
    graph = cmd[cmd.index("-filter_complex") + 1]
    # Each rung scaled from the one above it: 1080p from the source, 720p from 1080p, 480p from 720p.
    assert graph.count("scale=") == len(renditions) == 3 and graph.count("split=2") == 2
    assert cmd.count("-map") == 6  # picture and sound of each rung
    assert cmd[cmd.index("-var_stream_map") + 1] == "v:0,a:0,name:480p v:1,a:1,name:720p v:2,a:2,name:1080p"
    assert cmd[-1] == str(tmp_path / "out" / "%v" / "index.m3u8")


def test_the_first_segments_are_short_and_forced_keyframes_are_the_only_ones(tmp_path: Path) -> None:
    info = video.VideoInfo(10.0, 1920, 1080, 30.0, 300, "h264", "aac", 0, "mov", 0, 1)
    spec = video.VideoSpec()
    cmd = video._hls_output(tmp_path / "in.mp4", tmp_path / "out", info, spec, video.plan_ladder(info, spec)).compile()
    option = dict(zip(cmd, cmd[1:], strict=False))
    # keyframes at 0, 2, 4, then every 6 s; the muxer cuts at each once a segment is 2 s long
    assert option["-hls_time"] == "2"
    assert option["-force_key_frames"] == "expr:if(lt(n_forced,3),gte(t,2*n_forced),gte(t,6*(n_forced-2)))"
    assert option["-x264-params"] == "mbtree=1:rc-lookahead=10:scenecut=0:keyint=infinite"

    alike_spec = replace(spec, first_segment_seconds=0)
    alike = video._hls_output(
        tmp_path / "in.mp4", tmp_path / "out", info, alike_spec, video.plan_ladder(info, spec)
    ).compile()
    option = dict(zip(alike, alike[1:], strict=False))
    assert (option["-hls_time"], option["-force_key_frames"]) == ("6", "expr:gte(t,n_forced*6)")
    assert replace(spec, first_segment_seconds=6).lead_segments == 0


@pytest.mark.parametrize("first", [4, 5, -2])
def test_lead_segments_must_divide_the_segment_length(first: int) -> None:
    with pytest.raises(ValueError, match="must divide segment_seconds"):
        video.VideoSpec(first_segment_seconds=first)


def test_a_failing_ffmpeg_is_reported_with_its_error_text(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x17" * 4000)
    broken = ffmpeg.safe_input(garbage, ("mov",)).output(str(tmp_path / "out.webp"), vframes=1)
    with pytest.raises((Rejected, ffmpeg.TranscodeError)) as caught:
        ffmpeg.run(broken, timeout=30, stall_timeout=30)
    if isinstance(caught.value, Rejected):
        assert caught.value.code == ErrorCode.CORRUPT_FILE
    assert "-protocol_whitelist file" in caught.value.detail  # the command line, for moderators
