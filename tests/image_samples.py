"""Small real images of every accepted format, and broken ones, made on the spot for the worker tests.

Each generator is cached for the session and runs when a test first asks for
it, never at collection. Sizes stay small (the suite runs on two cores) but
each file is a real, whole file of its format written by its own encoder,
except the 16-bit RGB PNG and the pixel bomb, which are packed by hand
because Pillow writes neither.
"""

from __future__ import annotations

import io
import random
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, partial
from typing import Any

from PIL import Image, ImageDraw

# The stages an image job reports, in order (the WebSocket shows each).
STAGES = ["queued", "downloading", "validating", "scanning", "thumbnail", "optimized", "uploading", "done"]

# Colours drawn into the generated images, checked again in the renditions.
RED = (220, 30, 30)
BLUE = (30, 60, 220)
# Where _scene draws them: the disc's centre and the bar's.
SCENE_PROBES = ((0.22, 0.5, (*RED, 255)), (0.8, 0.5, (*BLUE, 255)))


@dataclass(frozen=True)
class ImageCase:
    """One upload, and what the worker must make of it."""

    name: str  # the test id
    filename: str
    content_type: str
    source: Callable[[], bytes]  # runs when a test first reads `body`, not at collection
    extension: str  # of the stored original
    original_type: str  # its Content-Type in storage
    format: str  # metadata["format"]
    size: tuple[int, int]  # upright source size: metadata width/height
    optimized: tuple[int, int]  # the size optimized.webp must have
    has_alpha: bool = False
    animated: bool = False
    frames: int = 1
    # (x, y as fractions of the optimized image, the RGBA expected there): colour, alpha and
    # orientation survive. An expected alpha of 0 checks transparency only.
    probes: tuple[tuple[float, float, tuple[int, int, int, int]], ...] = ()

    @property
    def body(self) -> bytes:
        return self.source()


def _scene(size: tuple[int, int], mode: str = "RGB") -> Image.Image:
    """A picture with structure: a gradient, a red disc on the left, a blue bar on the right."""
    width, height = size
    gradient = Image.linear_gradient("L").resize(size)
    img = Image.merge("RGB", (gradient, gradient.transpose(Image.Transpose.FLIP_LEFT_RIGHT), gradient))
    draw = ImageDraw.Draw(img)
    draw.ellipse((width * 0.05, height * 0.2, width * 0.4, height * 0.8), fill=RED)
    draw.rectangle((width * 0.7, height * 0.1, width * 0.9, height * 0.9), fill=BLUE)
    return img.convert(mode) if mode != "RGB" else img


def _save(img: Image.Image, fmt: str, **options: Any) -> bytes:
    out = io.BytesIO()
    img.save(out, fmt, **options)
    return out.getvalue()


@cache
def jpeg(width: int = 320, height: int = 240) -> bytes:
    return _save(_scene((width, height)), "JPEG", quality=85)


@cache
def png_with_alpha() -> bytes:
    """RGBA: the left half fully transparent, the right half opaque."""
    img = _scene((200, 120)).convert("RGBA")
    img.paste((0, 0, 0, 0), (0, 0, 100, 120))
    return _save(img, "PNG")


@cache
def webp() -> bytes:
    return _save(_scene((240, 160)), "WEBP", quality=80)


@cache
def animated_gif() -> bytes:
    """Three frames of a red square moving right: frame-by-frame different, so none is dropped."""
    frames = []
    for index in range(3):
        frame = Image.new("RGB", (120, 90), (240, 240, 240))
        ImageDraw.Draw(frame).rectangle((10 + 35 * index, 30, 40 + 35 * index, 60), fill=RED)
        frames.append(frame.convert("P", palette=Image.Palette.ADAPTIVE))
    return _save(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


@cache
def animated_webp_with_alpha() -> bytes:
    """Three frames of a red square moving down over a see-through background."""
    frames = []
    for index in range(3):
        frame = Image.new("RGBA", (100, 80), (0, 0, 0, 0))
        ImageDraw.Draw(frame).rectangle((40, 5 + 25 * index, 60, 25 + 25 * index), fill=(*RED, 255))
        frames.append(frame)
    return _save(frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=80, loop=0, lossless=True)


@cache
def avif() -> bytes:
    return _save(_scene((160, 120)), "AVIF", quality=70)


@cache
def tiff() -> bytes:
    return _save(_scene((200, 150)), "TIFF", compression="tiff_lzw")


@cache
def bmp() -> bytes:
    return _save(_scene((200, 150)), "BMP")


@cache
def cmyk_jpeg() -> bytes:
    """A CMYK JPEG (Adobe APP14, inverted as Photoshop writes it): red must come out red, not cyan."""
    return _save(_scene((200, 150)).convert("CMYK"), "JPEG", quality=90)


@cache
def png16_grey() -> bytes:
    """A 16-bit greyscale gradient (mode I;16): a naive conversion clips it all to white."""
    ramp = Image.linear_gradient("L").resize((256, 64)).point(lambda v: v * 257, "I")
    return _save(ramp.convert("I;16"), "PNG")


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png(width: int, height: int, bit_depth: int, colour_type: int, rows: bytes) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(rows))
        + _png_chunk(b"IEND", b"")
    )


@cache
def png16_rgb() -> bytes:
    """A 16-bit-per-channel RGB PNG, packed by hand (Pillow cannot write one): red on the left, blue on the right."""
    width, height = 160, 100
    red, blue = (56000, 8000, 8000), (8000, 16000, 56000)
    row = b"".join(struct.pack(">HHH", *(red if x < width // 2 else blue)) for x in range(width))
    return _png(width, height, 16, 2, (b"\x00" + row) * height)


@cache
def pixel_bomb(width: int = 50_000, height: int = 50_000) -> bytes:
    """A valid PNG header claiming width x height greyscale pixels, with a few bytes of data: under 100 bytes."""
    return _png(width, height, 8, 0, b"\x00" * 64)


@cache
def truncated_jpeg() -> bytes:
    """The first 60% of a noisy JPEG: the header is whole, the scan stops in the middle."""
    noisy = Image.effect_noise((320, 240), 60).convert("RGB")
    whole = _save(noisy, "JPEG", quality=90)
    return whole[: len(whole) * 3 // 5]


@cache
def pdf() -> bytes:
    from tests import samples

    return samples.pdf(1)


@cache
def random_bytes() -> bytes:
    # Seeded: a few per cent of random buffers look like something to libmagic (a DOS program, zlib...),
    # which made this case flaky; this one is application/octet-stream.
    return random.Random(0).randbytes(4096)


def format_cases(*, big_jpeg: tuple[int, int] = (2400, 300)) -> list[ImageCase]:
    """Every accepted format, generated. `big_jpeg` is wider than 2048 so the downscale is checked
    too; a thin strip keeps it at 0.7 MP."""
    opaque = 255
    return [
        ImageCase("jpeg", "cat.jpg", "image/jpeg", jpeg, "jpg", "image/jpeg", "JPEG", (320, 240), (320, 240),
                  probes=SCENE_PROBES),
        ImageCase("jpeg-wider-than-2048", "pano.jpeg", "image/jpeg", partial(jpeg, *big_jpeg), "jpg", "image/jpeg",
                  "JPEG", big_jpeg, (2048, round(big_jpeg[1] * 2048 / big_jpeg[0])), probes=SCENE_PROBES),
        ImageCase("png-alpha", "logo.png", "image/png", png_with_alpha, "png", "image/png", "PNG", (200, 120),
                  (200, 120), has_alpha=True, probes=((0.2, 0.5, (0, 0, 0, 0)), SCENE_PROBES[1])),
        ImageCase("webp", "pic.webp", "image/webp", webp, "webp", "image/webp", "WEBP", (240, 160), (240, 160),
                  probes=SCENE_PROBES),
        ImageCase("gif-animated", "moving.gif", "image/gif", animated_gif, "gif", "image/gif", "GIF", (120, 90),
                  (120, 90), animated=True, frames=3,
                  probes=((0.21, 0.5, (*RED, opaque)), (0.9, 0.5, (240, 240, 240, opaque)))),
        ImageCase("webp-animated-alpha", "sticker.webp", "image/webp", animated_webp_with_alpha, "webp", "image/webp",
                  "WEBP", (100, 80), (100, 80), has_alpha=True, animated=True, frames=3,
                  probes=((0.05, 0.05, (0, 0, 0, 0)), (0.5, 0.18, (*RED, opaque)))),
        ImageCase("avif", "pic.avif", "image/avif", avif, "avif", "image/avif", "AVIF", (160, 120), (160, 120),
                  probes=SCENE_PROBES),
        ImageCase("tiff", "scan.tiff", "image/tiff", tiff, "tiff", "image/tiff", "TIFF", (200, 150), (200, 150),
                  probes=SCENE_PROBES),
        ImageCase("bmp", "paint.bmp", "image/bmp", bmp, "bmp", "image/bmp", "BMP", (200, 150), (200, 150),
                  probes=SCENE_PROBES),
        ImageCase("jpeg-cmyk", "print.jpg", "image/jpeg", cmyk_jpeg, "jpg", "image/jpeg", "JPEG", (200, 150),
                  (200, 150), probes=SCENE_PROBES),
        # a vertical ramp: dark at the top, bright at the bottom, not clipped to white
        ImageCase("png-16bit-grey", "ramp.png", "image/png", png16_grey, "png", "image/png", "PNG", (256, 64),
                  (256, 64), probes=((0.5, 0.05, (14, 14, 14, opaque)), (0.5, 0.95, (242, 242, 242, opaque)))),
        ImageCase("png-16bit-rgb", "deep.png", "image/png", png16_rgb, "png", "image/png", "PNG", (160, 100),
                  (160, 100), probes=((0.25, 0.5, (218, 31, 31, opaque)), (0.75, 0.5, (31, 62, 218, opaque)))),
    ]  # fmt: skip
