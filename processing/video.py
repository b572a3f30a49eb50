"""Video processing: probe, thumbnail and a single-pass HLS ladder.

Pure functions over local files: no Django, no storage, no network. The job
layer downloads the upload, calls these, and uploads what they write.

- Every upload is hostile. ffprobe and ffmpeg run from argument lists (no
  shell) on a `file:` URL with a demuxer and a protocol allow-list, so an HLS
  or concat playlist named `.mp4` cannot make them open other files or the
  network; the decoders refuse frames over the pixel cap.
- `probe_video` reads the container headers and applies every cap (duration,
  dimensions, pixels, frame rate, frame count) before anything is decoded in
  full. Over a cap is `Rejected(ErrorCode.TOO_LARGE)`; no decodable video stream or no
  duration is `Rejected(ErrorCode.CORRUPT_FILE)`.
- `transcode_hls` decodes once. One filter graph scales the source to the
  largest rung and every smaller rung from the one above it (cheaper than
  scaling each from the source, same quality: bench/README.md); each rung has
  its own libx264 + AAC encoder in the same process, and the hls muxer writes
  `<rung>/index.m3u8`, its segments and `master.m3u8`. Keyframes are forced
  on source time, so segments line up across rungs, and they are the only
  keyframes (no scene-cut or interval keyframes): the first segments are
  `first_segment_seconds` long up to the first `segment_seconds` boundary
  (2, 2, 2, then 6, 6, ...), so the first ones come out, and a player starts,
  sooner; the playlists' TARGETDURATION stays `segment_seconds`.
- Published while it runs: the variant playlists are EVENT playlists that grow
  a segment at a time, and every file is written under a `.tmp` name and
  renamed when whole, so a reader of the folder (the job layer's publisher)
  never sees a partial segment or playlist. ffmpeg writes the master once
  every rung has its first segment. When ffmpeg is done the playlists end in
  `#EXT-X-ENDLIST` and are rewritten as VOD playlists.
- Every ffprobe and ffmpeg run goes through the adapter, `processing.ffmpeg`:
  command lines from ffmpeg-python, and a supervised run (timeout, no-progress
  watchdog, process group killed on every way out, `TranscodeError` with the
  full text in `detail`, which the job layer retries).
"""

from __future__ import annotations

import math
import shutil
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from processing import ffmpeg, hls
from processing.codes import ErrorCode
from processing.errors import Rejected
from processing.ffmpeg import FFMPEG, FFPROBE, ProgressCallback, TranscodeError
from processing.formats import VIDEO, decoders

__all__ = ["TranscodeError"]  # raised from here too, through the adapter

MASTER_PLAYLIST = "master.m3u8"
VARIANT_PLAYLIST = "index.m3u8"


@dataclass(frozen=True)
class Variant:
    """One rung of the HLS ladder."""

    height: int  # short side: 720 is 1280x720 for landscape and 720x1280 for portrait video
    video_bitrate: int  # bit/s, x264's VBV maxrate, so the master's BANDWIDTH is a real ceiling
    audio_bitrate: int = 128_000


@dataclass(frozen=True)
class VideoSpec:
    """Every tunable of the video pipeline; the job layer fills it from settings."""

    ladder: tuple[Variant, ...] = (
        Variant(480, 1_500_000, 96_000),
        Variant(720, 3_000_000, 128_000),
        Variant(1080, 6_000_000, 160_000),
    )
    segment_seconds: int = 6
    # The segments up to the first `segment_seconds` boundary are this long (2, 2, 2, then 6, 6...), so
    # the ladder is playable sooner; it must divide segment_seconds. 0 (or segment_seconds): all alike.
    first_segment_seconds: int = 2
    # Capped CRF: x264 spends what the picture needs, VBV caps the peaks. superfast plus
    # mbtree/lookahead matches veryfast's size and SSIM on natural footage for ~25% less
    # CPU (bench/README.md).
    preset: str = "superfast"
    x264_params: str = "mbtree=1:rc-lookahead=10"
    crf: int = 23
    bufsize_factor: float = 2.0  # VBV buffer = this many seconds of maxrate
    scaler: str = "bicubic"
    max_output_fps: float = 60.0  # faster sources (slow motion) are played back at this rate
    # Caps on the upload, checked on the headers before any decoding.
    max_duration: float = 3600.0
    max_width: int = 4096  # the picture must fit in max_width x max_height, either way round
    max_height: int = 4096
    max_pixels: int = 4096 * 2304
    max_fps: float = 240.0
    max_frames: int = 216_000
    # Wall-clock bound of one ffmpeg run, and of a run whose output stopped advancing.
    timeout: float = 7200.0
    stall_timeout: float = 120.0
    probe_timeout: float = 30.0
    thumbnail_timeout: float = 60.0
    thumbnail_at: float = 1.0
    thumbnail_size: int = 640  # longest side; never upscaled
    thumbnail_quality: int = 80
    progress_interval: float = 0.25  # at most ~4 progress callbacks a second
    # Demuxers ffprobe/ffmpeg may use, those of the accepted formats; anything else (hls, concat, image2...)
    # is refused.
    formats: tuple[str, ...] = decoders(VIDEO)
    ffmpeg: str = FFMPEG  # the binaries, for a build in another place
    ffprobe: str = FFPROBE

    def __post_init__(self) -> None:
        first, every = self.first_segment_seconds, self.segment_seconds
        if every <= 0 or first < 0 or (first and every % first):
            raise ValueError(f"first_segment_seconds ({first}) must divide segment_seconds ({every}), or be 0 for none")

    @property
    def lead_segments(self) -> int:
        """How many short segments come before the first `segment_seconds` boundary (0: none)."""
        if not self.first_segment_seconds or self.first_segment_seconds == self.segment_seconds:
            return 0
        return self.segment_seconds // self.first_segment_seconds

    def keyframe_times(self) -> str:
        """ffmpeg's force_key_frames expression: a keyframe at the start of every segment, in source time."""
        every, lead = self.segment_seconds, self.lead_segments
        if not lead:
            return f"expr:gte(t,n_forced*{every})"
        first = self.first_segment_seconds
        return f"expr:if(lt(n_forced,{lead}),gte(t,{first}*n_forced),gte(t,{every}*(n_forced-{lead - 1})))"


@dataclass(frozen=True)
class VideoInfo:
    duration: float  # seconds
    width: int  # as displayed: pixel aspect ratio and rotation applied
    height: int
    fps: float
    frames: int  # from the container, else estimated as duration * fps
    video_codec: str
    audio_codec: str | None
    rotation: int  # degrees clockwise a player turns the stored picture: 0, 90, 180 or 270
    container: str
    video_stream: int  # stream indexes, mapped explicitly so cover art is never picked
    audio_stream: int | None

    @property
    def has_audio(self) -> bool:
        return self.audio_stream is not None

    def metadata(self) -> dict[str, object]:
        """The fields a Media row shows its owner."""
        return {
            "duration": round(self.duration, 3),
            "width": self.width,
            "height": self.height,
            "fps": round(self.fps, 3),
            "video_codec": self.video_codec,
            "audio_codec": self.audio_codec,
            "has_audio": self.has_audio,
            "rotation": self.rotation,
        }


@dataclass(frozen=True)
class Rendition:
    """One variant as it is written: `<name>/index.m3u8` under the output folder."""

    name: str
    width: int
    height: int
    video_bitrate: int
    audio_bitrate: int

    @property
    def playlist(self) -> str:
        return f"{self.name}/{VARIANT_PLAYLIST}"


@dataclass(frozen=True)
class HlsResult:
    out_dir: Path
    renditions: tuple[Rendition, ...]

    @property
    def master(self) -> Path:
        return self.out_dir / MASTER_PLAYLIST

    def files(self) -> list[Path]:
        """Every file written, relative to out_dir (the keys under `.../hls/`)."""
        return sorted(p.relative_to(self.out_dir) for p in self.out_dir.rglob("*") if p.is_file())


# --- probing -----------------------------------------------------------------------------


def probe_video(path: Path, spec: VideoSpec | None = None) -> VideoInfo:
    """Read the headers, check the caps; raise Rejected for anything we will not transcode."""
    spec = spec or VideoSpec()
    found, errors = ffmpeg.probe(
        path, spec.formats, binary=spec.ffprobe, timeout=spec.probe_timeout, subject="video", max_pixels=spec.max_pixels
    )
    if "exceeds specified max pixel count" in errors:
        raise Rejected(ErrorCode.TOO_LARGE, _too_large_pixels(spec), errors)
    data = found or {}
    streams = [s for s in data.get("streams") or [] if isinstance(s, dict)]
    video = next((s for s in streams if _is_video(s)), None)
    if video is None:
        # ffprobe may have read the file fine (an audio-only MP4): say what it found, for moderators
        found = ", ".join(f"{s.get('codec_type')} ({s.get('codec_name')})" for s in streams) or "none"
        raise Rejected(
            ErrorCode.CORRUPT_FILE, "The file has no video we can read.", errors or f"no video stream; streams: {found}"
        )
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)

    fmt = data.get("format") or {}
    duration = _positive(fmt.get("duration")) or _positive(video.get("duration"))
    stored_w, stored_h = int(video.get("width") or 0), int(video.get("height") or 0)
    fps = _rate(video.get("avg_frame_rate")) or _rate(video.get("r_frame_rate"))
    if not duration:
        raise Rejected(ErrorCode.CORRUPT_FILE, "The video has no duration; the file may be damaged.", errors)
    if stored_w <= 0 or stored_h <= 0 or not fps:
        raise Rejected(ErrorCode.CORRUPT_FILE, "The video's picture size or frame rate is unreadable.", errors)

    sar = _rate(str(video.get("sample_aspect_ratio", "1:1")).replace(":", "/")) or 1.0
    rotation = _rotation(video)
    width, height = max(2, round(stored_w * sar)), stored_h
    if rotation in (90, 270):
        width, height = height, width
    frames = int(_positive(video.get("nb_frames")) or math.ceil(duration * fps))

    detail = f"{stored_w}x{stored_h} (displayed {width}x{height}), {fps:.3f} fps, {duration:.3f} s, {frames} frames"
    if duration > spec.max_duration:
        raise Rejected(ErrorCode.TOO_LARGE, f"The video is longer than {_minutes(spec.max_duration)}.", detail)
    if (
        max(width, height) > max(spec.max_width, spec.max_height)
        or min(width, height) > min(spec.max_width, spec.max_height)
        or stored_w * stored_h > spec.max_pixels
    ):
        raise Rejected(ErrorCode.TOO_LARGE, _too_large_pixels(spec), detail)
    if fps > spec.max_fps:
        raise Rejected(
            ErrorCode.TOO_LARGE, f"The video's frame rate is above {spec.max_fps:g} frames a second.", detail
        )
    if frames > spec.max_frames:
        raise Rejected(ErrorCode.TOO_LARGE, f"The video has more than {spec.max_frames} frames.", detail)

    return VideoInfo(
        duration=duration,
        width=width,
        height=height,
        fps=fps,
        frames=frames,
        video_codec=str(video.get("codec_name") or "unknown"),
        audio_codec=str(audio.get("codec_name") or "unknown") if audio else None,
        rotation=rotation,
        container=str(fmt.get("format_name") or ""),
        video_stream=int(video["index"]),
        audio_stream=int(audio["index"]) if audio else None,
    )


def _is_video(stream: dict) -> bool:
    disposition = stream.get("disposition") or {}
    return stream.get("codec_type") == "video" and not disposition.get("attached_pic") and "index" in stream


def _rotation(stream: dict) -> int:
    # The display matrix holds the counter-clockwise angle; older files carry a `rotate` tag
    # (clockwise). ffmpeg's autorotate turns the picture upright by the same rule.
    for side in stream.get("side_data_list") or []:
        if isinstance(side, dict) and "rotation" in side:
            return _quarter(-_float(side["rotation"]))
    tag = (stream.get("tags") or {}).get("rotate")
    return _quarter(_float(tag)) if tag is not None else 0


def _quarter(degrees: float) -> int:
    return round(degrees / 90) % 4 * 90


def _float(value: object) -> float:
    try:
        number = float(str(value))
    except ValueError:
        return 0.0
    return number if math.isfinite(number) else 0.0


def _positive(value: object) -> float:
    number = _float(value) if value is not None else 0.0
    return number if number > 0 else 0.0


def _rate(text: object) -> float:
    try:
        rate = Fraction(str(text))
    except (ValueError, ZeroDivisionError):
        return 0.0
    return float(rate) if rate > 0 else 0.0


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:g} minutes" if seconds >= 60 else f"{seconds:g} seconds"


def _too_large_pixels(spec: VideoSpec) -> str:
    return f"The video's picture is larger than {spec.max_width}x{spec.max_height}."


# --- thumbnail -----------------------------------------------------------------------------


def make_thumbnail(
    src: Path, out_path: Path, info: VideoInfo, spec: VideoSpec | None = None, *, size: int | None = None
) -> None:
    """A WebP of the frame at `spec.thumbnail_at` (the first frame of a shorter clip), upright,
    longest side at most `size`, never upscaled, no metadata."""
    spec = spec or VideoSpec()
    width, height = _fit(info.width, info.height, size or spec.thumbnail_size)
    last_start = info.duration - 2 / info.fps  # seeking past the last frame yields nothing
    seeks = [spec.thumbnail_at, 0.0] if 0 < spec.thumbnail_at <= last_start else [0.0]
    try:
        for seek in seeks:
            out_path.unlink(missing_ok=True)
            picture = (
                _input(src, spec, ss=f"{seek:.3f}")[str(info.video_stream)]
                .filter("scale", width, height, flags="bicubic")
                .filter("setsar", 1)
            )
            output = picture.output(
                str(out_path), vframes=1, vcodec="libwebp", quality=spec.thumbnail_quality, map_metadata=-1, f="webp"
            )
            timeout = spec.thumbnail_timeout
            ffmpeg.run(output, timeout=timeout, stall_timeout=timeout, binary=spec.ffmpeg)
            if out_path.is_file() and out_path.stat().st_size > 0:
                return
        raise Rejected(ErrorCode.CORRUPT_FILE, "No picture could be read from the video.")
    except BaseException:
        out_path.unlink(missing_ok=True)
        raise


def _fit(width: int, height: int, box: int) -> tuple[int, int]:
    scale = min(1.0, box / max(width, height))
    return _even(width * scale), _even(height * scale)


def _even(value: float) -> int:
    return max(2, round(value / 2) * 2)


# --- HLS ---------------------------------------------------------------------------------


def plan_ladder(info: VideoInfo, spec: VideoSpec) -> tuple[Rendition, ...]:
    """The renditions for this source, smallest first: every rung whose short side fits in the
    source's, or one rung at the source's own size when none does. Even sizes, aspect kept."""
    short, long = sorted((info.width, info.height))
    rungs = {v.height: v for v in sorted(spec.ladder, key=lambda v: v.height) if _even(v.height) <= short}
    if not rungs:
        lowest = min(spec.ladder, key=lambda v: v.height)
        # Fewer pixels than the lowest rung need proportionally fewer bits (but keep a floor).
        share = max(0.25, (short / lowest.height) ** 2)
        own = short - short % 2 or 2
        rungs = {own: Variant(own, int(lowest.video_bitrate * share), lowest.audio_bitrate)}
    plans = []
    for variant in rungs.values():
        side = _even(variant.height)
        other = _even(long * side / short)
        width, height = (other, side) if info.width >= info.height else (side, other)
        plans.append(Rendition(f"{side}p", width, height, variant.video_bitrate, variant.audio_bitrate))
    return tuple(plans)


def transcode_hls(
    src: Path,
    out_dir: Path,
    info: VideoInfo,
    spec: VideoSpec | None = None,
    on_progress: ProgressCallback | None = None,
) -> HlsResult:
    """Write the whole ladder with one ffmpeg process: out_dir/master.m3u8 and one folder per
    rendition. out_dir must be empty or absent; on any failure it is left as it was found."""
    spec = spec or VideoSpec()
    if "%" in str(out_dir):
        raise ValueError("out_dir must not contain '%' (the hls muxer expands it)")
    created = not out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)
    if any(out_dir.iterdir()):
        raise ValueError(f"{out_dir} is not empty")
    renditions = plan_ladder(info, spec)
    try:
        reached = ffmpeg.run(
            _hls_output(src, out_dir, info, spec, renditions),
            timeout=spec.timeout,
            stall_timeout=spec.stall_timeout,
            duration=info.duration,
            on_progress=on_progress,
            interval=spec.progress_interval,
            binary=spec.ffmpeg,
        )
        missing = [r.playlist for r in renditions if not (out_dir / r.playlist).is_file()]
        if missing or not (out_dir / MASTER_PLAYLIST).is_file():
            raise TranscodeError("The video could not be converted.", f"ffmpeg wrote no playlist for {missing}")
        # A header that promises more than the data holds is a damaged (e.g. truncated) upload.
        if info.duration > 2 and reached < info.duration / 2:
            raise Rejected(
                ErrorCode.CORRUPT_FILE,
                "The video file is incomplete or damaged.",
                f"decoded {reached:.2f} s of the {info.duration:.2f} s the header announces",
            )
        for r in renditions:  # finished: what grew as an EVENT playlist is now a VOD one
            variant = out_dir / r.playlist
            variant.write_text(hls.as_vod(variant.read_text()))
    except BaseException:
        _empty(out_dir, remove=created)
        raise
    if on_progress:
        on_progress(1.0)
    return HlsResult(out_dir, renditions)


def _hls_output(src: Path, out_dir: Path, info: VideoInfo, spec: VideoSpec, renditions: tuple[Rendition, ...]) -> Any:
    source = _input(src, spec)
    pictures = _scaled(source[str(info.video_stream)], info, spec, renditions)
    audio = source[str(info.audio_stream)] if info.audio_stream is not None else None
    streams = [s for picture in pictures for s in (picture, audio) if s is not None]
    options: dict[str, Any] = {"c:v": "libx264", "preset": spec.preset, "crf": spec.crf, "profile:v": "high"}
    # Forced keyframes on source time (not frame counts) land on the same instants in every
    # rendition. They must be the only keyframes: the hls muxer cuts at the first keyframe once the
    # segment is `hls_time` long, which after the short lead segments is every keyframe, so a
    # scene-cut (or keyint) keyframe would cut one rendition where another does not.
    options["x264-params"] = ":".join(p for p in (spec.x264_params, "scenecut=0", "keyint=infinite") if p)
    options["force_key_frames"] = spec.keyframe_times()
    for i, r in enumerate(renditions):
        options[f"maxrate:v:{i}"] = r.video_bitrate
        options[f"bufsize:v:{i}"] = int(r.video_bitrate * spec.bufsize_factor)
        if audio is not None:
            options[f"b:a:{i}"] = r.audio_bitrate
    if audio is not None:
        options.update({"c:a": "aac", "ac": 2})
    stream_map = " ".join(
        f"v:{i},a:{i},name:{r.name}" if audio is not None else f"v:{i},name:{r.name}" for i, r in enumerate(renditions)
    )
    return ffmpeg.output_of(
        streams,
        str(out_dir / "%v" / VARIANT_PLAYLIST),
        **options,
        map_metadata=-1,
        map_chapters=-1,
        f="hls",
        # cuts at the forced keyframes: short ones first, then every segment_seconds
        hls_time=spec.first_segment_seconds if spec.lead_segments else spec.segment_seconds,
        hls_playlist_type="event",  # grows while ffmpeg runs: playable from the first segment
        hls_flags="independent_segments+temp_file",  # each file appears whole, under its own name
        hls_segment_type="mpegts",
        hls_segment_filename=str(out_dir / "%v" / "seg_%05d.ts"),
        master_pl_name=MASTER_PLAYLIST,
        var_stream_map=stream_map,
    )


def _scaled(picture: Any, info: VideoInfo, spec: VideoSpec, renditions: tuple[Rendition, ...]) -> list[Any]:
    """The picture scaled to the largest rendition, each smaller one scaled from the one above it
    (in the order of `renditions`)."""
    if info.fps > spec.max_output_fps:
        picture = picture.filter("fps", f"{spec.max_output_fps:g}")
    order = sorted(range(len(renditions)), key=lambda i: renditions[i].width * renditions[i].height, reverse=True)
    scaled: dict[int, Any] = {}
    for step, i in enumerate(order):
        r = renditions[i]
        picture = picture.filter("scale", r.width, r.height, flags=spec.scaler).filter("format", "yuv420p")
        picture = picture.filter("setsar", 1)
        if step == len(order) - 1:
            scaled[i] = picture
        else:
            split = picture.split()
            scaled[i], picture = split[0], split[1]
    return [scaled[i] for i in range(len(renditions))]


def _input(src: Path, spec: VideoSpec, **options: Any) -> Any:
    return ffmpeg.safe_input(src, spec.formats, max_pixels=spec.max_pixels, **options)


def _empty(folder: Path, *, remove: bool) -> None:
    if remove:
        shutil.rmtree(folder, ignore_errors=True)
        return
    for child in folder.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)
