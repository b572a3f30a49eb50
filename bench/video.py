"""Benchmark of the video pipeline: the single-pass HLS ladder beside the naive way, same run.

    .venv/bin/python bench/video.py                          # default settings, 3 runs
    .venv/bin/python bench/video.py --configs default,veryfast --runs 5
    .venv/bin/python bench/video.py --quality                # + size and SSIM of each rendition
    .venv/bin/python bench/video.py --set scaler=bilinear    # try another VideoSpec value
    .venv/bin/python bench/video.py --playable               # + confirm -> playable, 30 s and 10 min clips

With `--playable` (needs DATABASE_URL, REDIS_URL, SeaweedFS and clamd, like `make run`; S3_BUCKET is best
a bench bucket of its own) it also times the whole job, the way a client meets it, for the 30 s clip and a
10-minute one (the same clip 20 times over, stream-copied): each is uploaded to temp/, claimed as confirm
claims it, and run by the job function in this process (no queue wait); the media row's own timestamps
give confirm -> playable (the first segments published: `playable_at`) and confirm -> READY.

The input is a 30 s 1080p30 clip with audio and natural motion: a slow pan and
zoom over an 8 MP phone photo of the shared corpus, encoded once (x264 medium,
CRF 18, AAC 160k) into the ignored bench/out/. ffmpeg's test patterns compress
unrealistically, so they are not used for figures.

Each run times, for every configuration, both ways of making the same outputs
with the same x264 settings:

- single: the pipeline, `transcode_hls` (one ffmpeg decodes once and writes
  the whole ladder) plus `make_thumbnail`;
- naive: one `transcode_hls` per rendition (a one-rung ladder, so one full
  decode and scale from the source each) plus `make_thumbnail`.

Wall is elapsed time; CPU is user+system of the ffmpeg children
(RUSAGE_CHILDREN), which a busy neighbour inflates less than wall. Runs
alternate which way goes first; the table shows medians. A bench never fails
the test run: it only prints figures.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from processing.video import VideoInfo, VideoSpec, make_thumbnail, plan_ladder, probe_video, transcode_hls  # noqa: E402

OUT = ROOT / "bench" / "out"
CLIP = OUT / "pan_1080p30.mp4"
GRAINY_CLIP = OUT / "pan_1080p30_grain.mp4"
PHOTO = ROOT.parent / "shared" / "corpus" / "camera" / "jolla.jpg"  # 3264x2448
SECONDS = 30

# name -> changes to VideoSpec(); "default" is what the job layer gets.
CONFIGS: dict[str, dict[str, object]] = {
    "default": {},
    "veryfast": {"preset": "veryfast", "x264_params": ""},  # the reference point
    "superfast": {"preset": "superfast", "x264_params": ""},  # without mbtree/lookahead
    "ultrafast": {"preset": "ultrafast", "x264_params": ""},
}


def make_clip(*, grain: bool = False) -> Path:
    """Pan left to right and zoom in 1.33x over the photo: smooth, natural camera motion.
    With `grain`, sensor-like temporal noise on top: the hard case for a fast x264 preset."""
    clip = GRAINY_CLIP if grain else CLIP
    if clip.exists():
        return clip
    if not PHOTO.exists():
        sys.exit(f"the shared corpus photo is missing: {PHOTO}")
    OUT.mkdir(parents=True, exist_ok=True)
    print(f"making {clip.relative_to(ROOT)} (once, about two minutes)...", flush=True)
    partial = clip.with_suffix(".partial.mp4")
    graph = (
        f"[0:v]scale=w='2*trunc((2400+800*t/{SECONDS})/2)':h=-2:eval=frame:flags=bicubic,"
        f"crop=1920:1080:x='(iw-1920)*t/{SECONDS}':y='(ih-1080)*(0.3+0.4*t/{SECONDS})',"
        + ("noise=alls=5:allf=t," if grain else "")
        + "format=yuv420p,setsar=1[v];"
        "[1:a][2:a]amix=inputs=2,pan=stereo|c0=c0|c1=c0[a]"
    )
    encode = ["-c:v", "libx264", "-preset", "medium", "-crf", "18", "-profile:v", "high"]
    if grain:  # grain at CRF 18 would take 100+ Mbit/s; a phone records 1080p30 at about 17
        encode += ["-preset", "veryfast", "-maxrate", "17M", "-bufsize", "34M"]
    cmd = [
        "ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
        "-loop", "1", "-framerate", "30", "-i", str(PHOTO),
        "-f", "lavfi", "-i", f"sine=frequency=220:beep_factor=4:sample_rate=48000:duration={SECONDS}",
        "-f", "lavfi", "-i", f"anoisesrc=color=pink:amplitude=0.05:sample_rate=48000:duration={SECONDS}",
        "-filter_complex", graph, "-map", "[v]", "-map", "[a]", "-t", str(SECONDS), "-r", "30",
        *encode, "-c:a", "aac", "-b:a", "160k", "-movflags", "+faststart", str(partial),
    ]  # fmt: skip
    subprocess.run(cmd, check=True)
    partial.rename(clip)
    return clip


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(work: Callable[[], None]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), children_cpu()
    work()
    return time.perf_counter() - wall, children_cpu() - cpu


def single(src: Path, info: VideoInfo, spec: VideoSpec, out: Path) -> None:
    transcode_hls(src, out / "hls", info, spec)
    make_thumbnail(src, out / "thumb.webp", info, spec)


def naive(src: Path, info: VideoInfo, spec: VideoSpec, out: Path) -> None:
    for variant in spec.ladder:
        transcode_hls(src, out / f"hls-{variant.height}", info, dataclasses.replace(spec, ladder=(variant,)))
    make_thumbnail(src, out / "thumb.webp", info, spec)


def quality(src: Path, out: Path, info: VideoInfo, spec: VideoSpec) -> list[str]:
    """Per rendition: total bitrate of its segments and SSIM against the source scaled with lanczos."""
    rows = []
    for r in plan_ladder(info, spec):
        folder = out / "hls" / r.name
        kbps = sum(p.stat().st_size for p in folder.glob("*.ts")) * 8 / info.duration / 1000
        graph = (
            f"[0:v]setpts=PTS-STARTPTS[d];[1:v]scale={r.width}:{r.height}:flags=lanczos,setpts=PTS-STARTPTS[r];"
            "[d][r]ssim"
        )
        cmd = ["ffmpeg", "-hide_banner", "-nostdin", "-i", str(folder / "index.m3u8"), "-i", str(src)]
        done = subprocess.run([*cmd, "-lavfi", graph, "-f", "null", "-"], capture_output=True, text=True, check=True)
        ssim = re.search(r"All:([0-9.]+) \(([0-9.]+)\)", done.stderr)
        rows.append(f"{r.name} {kbps:.0f} kbit/s, SSIM {ssim[1]} ({ssim[2]} dB)" if ssim else f"{r.name} ?")
    return rows


def long_clip(src: Path, minutes: int = 10) -> Path:
    """The clip repeated to `minutes` minutes, stream-copied (no re-encode): the same picture, longer."""
    clip = OUT / f"{src.stem}_{minutes}min.mp4"
    if not clip.exists():
        loops = minutes * 60 // SECONDS - 1
        cmd = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-stream_loop", str(loops)]
        subprocess.run([*cmd, "-i", str(src), "-c", "copy", "-movflags", "+faststart", str(clip)], check=True)
    return clip


def playable(clips: list[Path], full_until: float = 60) -> None:
    """Confirm -> playable and confirm -> READY of each clip through the real job (see the docstring).
    A clip longer than `full_until` seconds is deleted once it is playable (the job then stops, as for any
    media deleted while processing): its READY would only time the ladder again, for many minutes."""
    import threading
    from datetime import datetime

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mediahub.settings")
    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection

    from media import jobs, lifecycle, storage
    from media.models import Media

    def delete_once_playable(media_id: object, seen: dict[str, datetime], stop: threading.Event) -> None:
        try:
            while not stop.wait(0.05):
                at = Media.objects.filter(pk=media_id).values_list("playable_at", flat=True).first()
                if at is not None:
                    seen["playable_at"] = at
                    Media.objects.filter(pk=media_id).delete()
                    return
        finally:
            connection.close()

    storage.ensure_bucket()
    user = get_user_model().objects.get_or_create(username="bench-video")[0]
    print("\n| clip | length | bytes | confirm -> playable | confirm -> READY | READY x realtime |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for clip in clips:
        info = probe_video(clip)
        size = clip.stat().st_size
        media = Media.objects.create(owner=user, kind="video", filename=clip.name, content_type="video/mp4", size=size)
        seen: dict[str, datetime] = {}
        stop = threading.Event()
        stopper = threading.Thread(target=delete_once_playable, args=(media.id, seen, stop))
        try:
            storage.upload(clip, media.temp_key, content_type="video/mp4")
            claimed = lifecycle.start_processing(media.id)  # what confirm does once the upload is there
            assert claimed is not None and claimed.confirmed_at is not None
            if info.duration > full_until:
                stopper.start()
            outcome = jobs.process_media(str(media.id))
            stop.set()
            if stopper.is_alive():
                stopper.join()
            row = Media.objects.filter(pk=media.id).first()
            playable_at = seen.get("playable_at") or (row.playable_at if row else None)
            if playable_at is None:
                sys.exit(f"{clip.name}: {outcome}, never playable ({row.status if row else 'deleted'})")
            to_playable = (playable_at - claimed.confirmed_at).total_seconds()
            if row is not None and row.finished_at is not None:
                to_ready = (row.finished_at - claimed.confirmed_at).total_seconds()
                ready = f"{to_ready:.1f} s | {info.duration / to_ready:.2f}x"
            else:
                ready = "stopped once playable | "
            print(
                f"| {clip.name} | {info.duration:.0f} s | {size / 1e6:.0f} MB | {to_playable:.1f} s | {ready} |",
                flush=True,
            )
        finally:
            stop.set()
            storage.delete_prefix(media.permanent_prefix)
            storage.delete([media.temp_key])
            Media.objects.filter(pk=media.id).delete()


def parse_value(text: str) -> object:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--configs", default="default", help=f"comma-separated, of: {', '.join(CONFIGS)}")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", help="VideoSpec override")
    parser.add_argument("--quality", action="store_true", help="also measure bitrate and SSIM (slow)")
    parser.add_argument("--grain", action="store_true", help="use the pan with film grain (harder to encode)")
    parser.add_argument("--clip", type=Path, help="another input instead of the generated pan")
    parser.add_argument("--playable", action="store_true", help="also confirm -> playable, 30 s and 10 min")
    args = parser.parse_args()

    src = args.clip or make_clip(grain=args.grain)
    overrides = {key: parse_value(value) for key, value in (item.split("=", 1) for item in args.set)}
    specs = {name: dataclasses.replace(VideoSpec(), **CONFIGS[name], **overrides) for name in args.configs.split(",")}
    info = probe_video(src, next(iter(specs.values())))
    work = OUT / "run"
    print(
        f"{src.name}: {info.width}x{info.height} {info.fps:g} fps, {info.duration:g} s, "
        f"{info.video_codec}/{info.audio_codec}; {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}"
    )
    results: dict[tuple[str, str], list[tuple[float, float]]] = {}
    quality_rows: dict[str, list[str]] = {}
    for run in range(args.runs):
        for name, spec in specs.items():
            ways = [("single", single), ("naive", naive)]
            for way, function in ways if run % 2 == 0 else ways[::-1]:
                shutil.rmtree(work, ignore_errors=True)
                work.mkdir(parents=True)
                wall, cpu = timed(lambda f=function, s=spec: f(src, info, s, work))
                results.setdefault((name, way), []).append((wall, cpu))
                print(f"  run {run + 1} {name:<10} {way:<6} wall {wall:6.2f} s  cpu {cpu:6.2f} s", flush=True)
                if args.quality and way == "single" and name not in quality_rows:
                    quality_rows[name] = quality(src, work, info, spec)
    shutil.rmtree(work, ignore_errors=True)

    if not args.runs:  # --runs 0: the confirm -> playable figures alone
        playable([src, long_clip(src)])
        return
    print(f"\nmedians of {args.runs} runs, load {os.getloadavg()[0]:.1f} at the end")
    print("| config | x264 | way | wall s | CPU s | x realtime | naive/single wall | naive/single CPU |")
    print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for name, spec in specs.items():
        x264 = spec.preset + (f" {spec.x264_params}" if spec.x264_params else "") + f" crf {spec.crf}"
        median = {
            way: [statistics.median(v) for v in zip(*results[name, way], strict=True)] for way in ("single", "naive")
        }
        for way in ("single", "naive"):
            wall, cpu = median[way]
            ratios = f"{median['naive'][0] / wall:.2f}x | {median['naive'][1] / cpu:.2f}x" if way == "single" else " | "
            print(f"| {name} | {x264} | {way} | {wall:.1f} | {cpu:.1f} | {info.duration / wall:.2f}x | {ratios} |")
    for name, rows in quality_rows.items():
        print(f"quality, {name}: " + "; ".join(rows))
    if args.playable:
        playable([src, long_clip(src)])
        print(f"load {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
