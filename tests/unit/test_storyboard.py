"""Storyboards: a sprite sheet and a WebVTT whose #xywh fragments point at the right frames."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from processing.storyboard import SPRITE, StoryboardSpec, make_storyboard, plan
from processing.video import VideoInfo, probe_video

COLOURS = {"red": (255, 0, 0), "lime": (0, 255, 0), "blue": (0, 0, 255), "white": (255, 255, 255)}
CUE = re.compile(r"^(\S+) --> (\S+)\n(\S+)#xywh=(\d+),(\d+),(\d+),(\d+)$", re.M)


@pytest.fixture(scope="module")
def four_colours(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One second of each colour, in order: a tile shows which second it was taken from."""
    path = tmp_path_factory.mktemp("storyboard") / "colours.mp4"
    args = []
    for colour in COLOURS:
        args += ["-f", "lavfi", "-i", f"color=c={colour}:s=320x180:r=10:d=1"]
    graph = "".join(f"[{i}:v]" for i in range(len(COLOURS))) + f"concat=n={len(COLOURS)}:v=1[v]"
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *args, "-filter_complex", graph,
         "-map", "[v]", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path)],
        check=True,
    )  # fmt: skip
    return path


def test_every_cue_points_at_the_frame_of_its_time(four_colours: Path, tmp_path: Path) -> None:
    info = probe_video(four_colours)
    board = make_storyboard(four_colours, tmp_path, info, StoryboardSpec(interval=1.0, tile_width=80, columns=3))
    assert (board.tiles, board.tile_width, board.tile_height) == (4, 80, 44)
    sprite = Image.open(board.sprite).convert("RGB")
    assert sprite.size == (3 * 80, 2 * 44)  # three columns, two rows
    cues = CUE.findall(board.vtt.read_text())
    assert board.vtt.read_text().startswith("WEBVTT\n")
    assert [(start, end) for start, end, *_ in cues] == [
        ("00:00:00.000", "00:00:01.000"),
        ("00:00:01.000", "00:00:02.000"),
        ("00:00:02.000", "00:00:03.000"),
        ("00:00:03.000", "00:00:04.000"),
    ]
    for (_, _, name, x, y, w, h), expected in zip(cues, COLOURS.values(), strict=True):
        assert name == SPRITE
        x, y, w, h = int(x), int(y), int(w), int(h)
        assert x + w <= sprite.width and y + h <= sprite.height
        centre = sprite.getpixel((x + w // 2, y + h // 2))
        assert all(abs(a - b) < 40 for a, b in zip(centre, expected, strict=True)), (centre, expected)


def test_a_long_video_gets_a_longer_interval_not_a_bigger_sheet() -> None:
    long = VideoInfo(3600.0, 1920, 1080, 30.0, 108_000, "h264", "aac", 0, "mov", 0, 1)
    assert plan(long, StoryboardSpec(interval=5.0, max_tiles=100)) == (36.0, 100)
    short = VideoInfo(12.0, 1920, 1080, 30.0, 360, "h264", "aac", 0, "mov", 0, 1)
    assert plan(short, StoryboardSpec(interval=5.0, max_tiles=100)) == (5.0, 3)
