"""The ladder as it is written: what a reader of ffmpeg's output folder sees while it runs (the job layer
publishes exactly that, media/live_hls.py), and the playlists at the end. No services."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from processing.hls import as_vod, is_complete, uris
from processing.video import Variant, VideoSpec, probe_video, transcode_hls

EVENT = """#EXTM3U
#EXT-X-VERSION:6
#EXT-X-TARGETDURATION:6
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-PLAYLIST-TYPE:EVENT
#EXT-X-INDEPENDENT-SEGMENTS
#EXTINF:6.000000,
seg_00000.ts
"""


def test_a_growing_playlist_names_its_segments_and_becomes_vod_only_once_finished() -> None:
    assert uris(EVENT) == ["seg_00000.ts"] and not is_complete(EVENT)
    with pytest.raises(ValueError):
        as_vod(EVENT)
    finished = as_vod(EVENT + "#EXT-X-ENDLIST\n")
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in finished and "EVENT" not in finished and is_complete(finished)
    master = (
        '#EXTM3U\n#EXT-X-MEDIA:TYPE=SUBTITLES,URI="subs/sub_0.m3u8"\n#EXT-X-STREAM-INF:BANDWIDTH=1\n480p/index.m3u8\n'
    )
    assert uris(master) == ["subs/sub_0.m3u8", "480p/index.m3u8"]


def test_while_ffmpeg_writes_every_playlist_seen_is_an_event_playlist_of_whole_segments(tmp_path: Path) -> None:
    src = tmp_path / "clip.mp4"
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
         "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25:duration=16", "-f", "lavfi", "-i", "sine=duration=16",
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", str(src)],
        check=True, timeout=120,
    )  # fmt: skip
    # a slow preset and 2 s segments: many progress reports while segments come out
    spec = replace(VideoSpec(), ladder=(Variant(180, 300_000), Variant(360, 800_000)), segment_seconds=2,
                   preset="slow", x264_params="", progress_interval=0)  # fmt: skip
    out = tmp_path / "hls"
    seen: list[dict[str, str]] = []

    def look(_: float) -> None:
        # what a reader finds at this instant: playlists by name, each segment they name present
        files = {p.relative_to(out).as_posix(): p for p in out.rglob("*") if p.is_file() and p.suffix != ".tmp"}
        playlists = {name: path.read_text() for name, path in files.items() if name.endswith(".m3u8")}
        for name, text in playlists.items():
            folder = Path(name).parent
            for uri in uris(text):
                assert (folder / uri).as_posix() in files, (name, uri, sorted(files))
        seen.append(playlists)

    transcode_hls(src, out, probe_video(src, spec), spec, on_progress=look)

    growing = [p["180p/index.m3u8"] for p in seen if "180p/index.m3u8" in p and not is_complete(p["180p/index.m3u8"])]
    assert growing, "no report saw the ladder half-way"
    assert all("#EXT-X-PLAYLIST-TYPE:EVENT" in text for text in growing)
    assert any("master.m3u8" in p and len(uris(p["master.m3u8"])) == 2 for p in seen)  # the master lists both
    for rung in ("180p", "360p"):  # at the end: VOD, with its end, all 8 segments
        final = (out / rung / "index.m3u8").read_text()
        assert "#EXT-X-PLAYLIST-TYPE:VOD" in final and is_complete(final) and len(uris(final)) == 8
    assert not list(out.rglob("*.tmp"))
