"""Image renditions: check the header, decode once at the size needed, write WebP.

Pure functions over files on disk: no Django, no storage, no network. The job
layer spools the upload to a file, calls `render_image` and uploads the files
it returns.

The still-image pipeline, in the order that keeps it cheap:

1. `Image.open` reads the header only; pixel count, sides and frames are
   checked there, before anything is decoded (`too_large`).
2. JPEGs decode with DCT scaling (`draft`) to the smallest 1/2, 1/4 or 1/8
   size that is still at least what the outputs need; nothing else is decoded
   twice.
3. One resize to the largest size asked for; every smaller rendition (the
   responsive widths, the thumbnail) is cut from that already reduced image,
   not from the original, and two renditions of the same size and format are
   encoded once.
4. Colour (embedded ICC profile or CMYK -> sRGB) and EXIF orientation are
   applied to the small images, where they cost a fraction of full size.
5. WebP and AVIF are written without EXIF, XMP or ICC chunks: the pixels are sRGB and
   upright, so nothing in the metadata is needed, and GPS never leaks.

Bad input raises `Rejected`; anything else that escapes is transient for the
caller (a full disk, a killed process) and worth a retry.

JPEG, PNG, GIF, TIFF and BMP are read from the file in blocks. Pillow's WebP
and AVIF plugins and pillow-heif read the whole file into memory when they
open it (their C libraries want one buffer); the upload size limit bounds
that, and no pixel is allocated before the header check either way.
"""

from __future__ import annotations

import os
import struct
import warnings
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import imagehash
import magic
import pillow_heif
from PIL import Image, UnidentifiedImageError

from processing import formats, image_ops, sniff
from processing.codes import ErrorCode
from processing.errors import Rejected
from processing.rendition import Rendition

# Depth maps, thumbnails and auxiliary images inside HEIC files are never used.
pillow_heif.register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)
# Pillow hands freed image memory straight back to the OS, so a worker would
# page-fault ~100 MB of buffers in again for every 12 MP photo (~40 ms of
# system time each). Keeping eight 16 MB blocks for reuse halves those faults;
# a process that never decodes an image keeps nothing. Operators can still
# choose with Pillow's own PILLOW_BLOCKS_MAX.
if "PILLOW_BLOCKS_MAX" not in os.environ:
    Image.core.set_blocks_max(8)

# Only these decoders ever see an upload: Pillow knows dozens more formats (EPS
# would even start Ghostscript), none of which we promised to accept.
FORMATS = formats.decoders(formats.IMAGE)
ANIMATED_FORMATS = frozenset({"GIF", "WEBP", "PNG"})
# every image type sniffing knows, under any of its names
_IMAGE_MIMES = frozenset(t for t in sniff.TYPE_FAMILIES if t.startswith("image/"))


@dataclass(frozen=True)
class ImageSpec:
    """Every tunable of the image renditions; the job layer fills it from settings."""

    # The sizes of default_renditions (callers that declare their renditions pass them instead).
    thumb_size: int = 150
    optimized_max: int = 2048
    # q80 is where WebP artefacts stop being visible on photos at typical
    # viewing sizes; it is also sharp's and cwebp's default, so the benchmark
    # compares like with like.
    quality: int = 80
    # WebP method 0-6 trades CPU for size; 4 is libwebp's default (see bench/README.md).
    method: int = 4
    # Animations have many frames: a cheaper method keeps a long GIF from
    # taking minutes, for files a few per cent larger.
    animation_method: int = 1
    # The filter of the big resize (a key of image_ops.RESAMPLE). Bicubic is
    # Pillow's own thumbnail() default: against LANCZOS it differs by ~53 dB
    # PSNR, far below what q80 WebP changes, for a third less resize time.
    resample: str = "bicubic"
    # AVIF: q50 at speed 8 is sharp's default quality, files ~15 % smaller than q80 WebP at a like look;
    # speed 8 costs about what WebP's method 4 does (bench/README.md).
    avif_quality: int = 50
    avif_speed: int = 8
    # The square thumbnail keeps the most salient part ("attention") or the middle ("centre").
    crop: image_ops.Crop = "attention"
    max_pixels: int = 50_000_000
    max_side: int = 20_000
    max_frames: int = 1_000
    # Decoded pixels over all frames of an animation (they are held in memory).
    max_animation_pixels: int = 100_000_000

    def __post_init__(self) -> None:
        # Fail when the settings are read, not on the first upload.
        if self.resample not in image_ops.RESAMPLE:
            raise ValueError(f"resample must be one of {sorted(image_ops.RESAMPLE)}, not {self.resample!r}")
        if not (0 <= self.method <= 6 and 0 <= self.animation_method <= 6 and 1 <= self.quality <= 100):
            raise ValueError("WebP method must be 0-6 and quality 1-100")
        if not (0 <= self.avif_speed <= 10 and 1 <= self.avif_quality <= 100):
            raise ValueError("AVIF speed must be 0-10 and quality 1-100")
        if self.crop not in ("attention", "centre"):
            raise ValueError(f"crop must be attention or centre, not {self.crop!r}")

    def save_options(self, rendition: Rendition) -> dict[str, Any]:
        """The encoder's options for a still rendition; AVIF is told there is no colour profile (the pixels are
        sRGB already), where Pillow would otherwise copy the source's."""
        if rendition.encoder == "AVIF":
            return {"quality": self.avif_quality, "speed": self.avif_speed, "icc_profile": None}
        return {"quality": self.quality, "method": self.method}


def default_renditions(spec: ImageSpec) -> tuple[Rendition, ...]:
    """The thumbnail and the optimized image, at the spec's sizes (the app declares its own)."""
    return (
        Rendition("thumbnail", "thumb.webp", "cover", spec.thumb_size),
        Rendition("optimized", "optimized.webp", "within", spec.optimized_max),
    )


@dataclass(frozen=True)
class ImageInfo:
    """What the header says, before any pixel is decoded."""

    format: str
    width: int  # as stored, before EXIF orientation
    height: int
    frames: int

    @property
    def animated(self) -> bool:
        return self.frames > 1 and self.format in ANIMATED_FORMATS


@dataclass(frozen=True)
class ImageResult:
    files: dict[str, Path]  # rendition name -> written file
    metadata: dict[str, Any]


def probe_image(src_path: Path, spec: ImageSpec = ImageSpec()) -> ImageInfo:
    """Identify an image and check its limits from the header alone."""
    with _open(src_path) as img:
        return _check(img, spec)


def render_image(
    src_path: Path,
    out_dir: Path,
    spec: ImageSpec = ImageSpec(),
    renditions: Sequence[Rendition] | None = None,
    *,
    on_stage: Callable[[str], None] | None = None,
) -> ImageResult:
    """Write the renditions of `src_path` (default: `default_renditions(spec)`) into `out_dir` and
    describe the picture.

    The picture is decoded once, reduced to the largest `within` size; every rendition is cut from
    that. Cover crops are written first, they are cheap; `on_stage(name)` is called before each
    `within` rendition is encoded, the longest steps, so progress can say where it is.
    """
    stage = on_stage or (lambda name: None)
    wanted = sorted(renditions or default_renditions(spec), key=lambda r: r.fit != "cover")
    with _open(src_path) as img:
        info = _check(img, spec)
        orientation = image_ops.orientation_of(img)
        icc = img.info.get("icc_profile") or None
        out_dir.mkdir(parents=True, exist_ok=True)
        width, height = (info.height, info.width) if orientation >= 5 else (info.width, info.height)
        sizes = {r.name: r.scaled_size(width, height) for r in wanted if r.fit != "cover"}
        # the reduced picture every rendition is cut from (upright), and the placeholder's source
        target = max(sizes.values(), key=lambda size: size[0] * size[1], default=None)
        target = target or image_ops.fit_within(width, height, spec.optimized_max)
        if orientation >= 5:
            target = (target[1], target[0])  # decoded as stored, turned upright after the resize
        write = _write_animation if info.animated else _write_still
        reduced, has_alpha, files = write(img, info, orientation, icc, spec, target, wanted, sizes, out_dir, stage)
    metadata = {
        "width": width,
        "height": height,
        "format": "JPEG" if info.format == "MPO" else info.format,
        "has_alpha": has_alpha,
        "animated": info.animated,
        "frames": info.frames if info.animated else 1,
        "blurhash": image_ops.placeholder(reduced),
        # a perceptual hash (DCT, 64 bits as hex): near-duplicates differ in a few bits
        "phash": str(imagehash.phash(reduced)),
    }
    return ImageResult(files=files, metadata=metadata)


class _Writer:
    """Names each rendition's file; a rendition of the same size and format as one already written shares
    its file (the largest responsive widths of a small picture, the optimized image and its width twin)."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.files: dict[str, Path] = {}
        self._written: dict[tuple[tuple[int, int], str], Path] = {}

    def claim(self, rendition: Rendition, size: tuple[int, int]) -> Path | None:
        """The file to write the rendition to, or None when a twin already wrote it."""
        done = self._written.get((size, rendition.encoder))
        self.files[rendition.name] = done or self.out_dir / rendition.filename
        if done is not None:
            return None
        self._written[size, rendition.encoder] = self.files[rendition.name]
        return self.files[rendition.name]


def _write_still(
    img: Image.Image,
    info: ImageInfo,
    orientation: int,
    icc: bytes | None,
    spec: ImageSpec,
    target: tuple[int, int],
    wanted: Sequence[Rendition],
    sizes: dict[str, tuple[int, int]],
    out_dir: Path,
    stage: Callable[[str], None],
) -> tuple[Image.Image, bool, dict[str, Path]]:
    resample = image_ops.RESAMPLE[spec.resample]
    # A very long panorama's reduced image can be thinner than a thumbnail:
    # decode at least what the cover crops need too.
    need = target
    for rendition in wanted:
        if rendition.fit == "cover":
            cover = image_ops.cover_size(info.width, info.height, rendition.size)
            need = (max(need[0], min(cover[0], info.width)), max(need[1], min(cover[1], info.height)))
    with _decoding():
        if img.format in ("JPEG", "MPO"):
            img.draft(img.mode, need)  # DCT scaling keeps the result >= need
        img.load()
    decoded = image_ops.normalize_mode(img)
    resized = decoded if decoded.size == target else decoded.resize(target, resample, reducing_gap=3.0)
    reduced = image_ops.upright(image_ops.to_srgb(resized, icc), orientation)
    writer = _Writer(out_dir)
    for rendition in wanted:
        if rendition.fit == "cover":
            if (path := writer.claim(rendition, (rendition.size, rendition.size))) is None:
                continue
            if min(reduced.size) >= rendition.size:
                out = image_ops.cover_thumbnail(reduced, rendition.size, spec.crop)
            else:
                out = image_ops.upright(image_ops.to_srgb(decoded, icc), orientation)
                out = image_ops.cover_thumbnail(out, rendition.size, spec.crop)
        else:
            stage(rendition.name)
            size = sizes[rendition.name]
            if (path := writer.claim(rendition, size)) is None:
                continue
            out = reduced if size == reduced.size else reduced.resize(size, resample)
        out.save(path, rendition.encoder, **spec.save_options(rendition))
    return reduced, reduced.mode in ("LA", "RGBA"), writer.files


def _write_animation(
    img: Image.Image,
    info: ImageInfo,
    orientation: int,
    icc: bytes | None,
    spec: ImageSpec,
    target: tuple[int, int],
    wanted: Sequence[Rendition],
    sizes: dict[str, tuple[int, int]],
    out_dir: Path,
    stage: Callable[[str], None],
) -> tuple[Image.Image, bool, dict[str, Path]]:
    resample = image_ops.RESAMPLE[spec.resample]
    frames: list[Image.Image] = []
    durations: list[int] = []
    for index in range(info.frames):
        with _decoding():
            img.seek(index)
            frame = img.convert("RGBA")  # the composited frame, disposal already applied
        if frame.size != target:
            frame = frame.resize(target, resample)
        frames.append(image_ops.upright(image_ops.to_srgb(frame, icc), orientation))
        durations.append(int(img.info.get("duration") or 100))
    # A GIF without the NETSCAPE extension plays once; WebP and APNG say 0 for forever.
    loop = img.info.get("loop", 1 if info.format == "GIF" else 0)
    has_alpha = any(image_ops.has_transparency(frame) for frame in frames)
    first = frames[0]
    writer = _Writer(out_dir)
    for rendition in wanted:
        if rendition.fit == "cover":
            if (path := writer.claim(rendition, (rendition.size, rendition.size))) is not None:
                thumb = image_ops.cover_thumbnail(first, rendition.size, spec.crop)
                thumb = thumb if has_alpha else thumb.convert("RGB")
                thumb.save(path, rendition.encoder, **spec.save_options(rendition))
            continue
        stage(rendition.name)
        size = sizes[rendition.name]
        if (path := writer.claim(rendition, size)) is None:
            continue
        scaled = [frame if frame.size == size else frame.resize(size, resample) for frame in frames]
        options = spec.save_options(rendition) | {"duration": durations, "loop": loop}
        if rendition.encoder == "WEBP":
            options["method"] = spec.animation_method
        scaled[0].save(path, rendition.encoder, save_all=True, append_images=scaled[1:], **options)
    return first, has_alpha, writer.files


@contextmanager
def _open(src_path: Path) -> Iterator[Image.Image]:
    with _decoding(src_path), warnings.catch_warnings():
        # Pillow warns past its own pixel limit; ours is checked right after.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        img = Image.open(src_path, formats=FORMATS)
    with img:
        yield img


def _check(img: Image.Image, spec: ImageSpec) -> ImageInfo:
    """Enforce the limits from what `Image.open` read: the header, never the pixels."""
    assert img.format is not None
    width, height = img.size
    with _decoding():
        frames = getattr(img, "n_frames", 1)  # GIF: walks the blocks, decodes nothing
    info = ImageInfo(format=img.format, width=width, height=height, frames=frames)
    detail = f"{info.format} {width}x{height}, {frames} frame(s)"
    if width * height > spec.max_pixels or max(width, height) > spec.max_side:
        raise Rejected(
            ErrorCode.TOO_LARGE,
            f"The image is too large ({width} x {height} pixels); "
            f"the limit is {spec.max_pixels // 1_000_000} megapixels and {spec.max_side} pixels a side.",
            detail,
        )
    if info.animated and (frames > spec.max_frames or frames * width * height > spec.max_animation_pixels):
        raise Rejected(
            ErrorCode.TOO_LARGE,
            f"The animation is too large ({frames} frames of {width} x {height} pixels).",
            detail,
        )
    return info


@contextmanager
def _decoding(src_path: Path | None = None) -> Iterator[None]:
    """Turn what the decoders raise for bad bytes into `Rejected`; real I/O errors stay transient."""
    try:
        yield
    except UnidentifiedImageError as exc:
        raise _unidentified(src_path, exc) from exc
    except Image.DecompressionBombError as exc:
        raise Rejected(ErrorCode.TOO_LARGE, "The image is too large to process.", str(exc)) from exc
    except OSError as exc:
        if exc.errno is not None:  # the file system failed, not the image
            raise
        raise _corrupt(exc) from exc
    except (SyntaxError, ValueError, EOFError, RuntimeError, struct.error, zlib.error) as exc:
        # What Pillow's decoders raise for bad data (RuntimeError: the AVIF one).
        raise _corrupt(exc) from exc


def _corrupt(exc: BaseException) -> Rejected:
    return Rejected(
        ErrorCode.CORRUPT_FILE,
        "The image file is damaged or incomplete and cannot be read. Please upload it again.",
        f"{type(exc).__name__}: {exc}",
    )


def _unidentified(src_path: Path | None, exc: BaseException) -> Rejected:
    """Unknown bytes, an empty file or a damaged header are corrupt; a real file of another type is not."""
    mime = magic.from_file(str(src_path), mime=True) if src_path is not None else ""
    if mime in _IMAGE_MIMES or mime in ("application/octet-stream", "inode/x-empty", ""):
        return _corrupt(exc)
    return Rejected(
        ErrorCode.UNSUPPORTED_TYPE,
        "This file type is not supported. Please upload a JPEG, PNG, WebP, GIF, AVIF, HEIC, TIFF or BMP image.",
        f"{mime}: {exc}",
    )
