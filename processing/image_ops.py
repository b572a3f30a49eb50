"""Pixel-level helpers for `processing.images`: geometry, colour, orientation, placeholder.

Everything here works on decoded `PIL.Image` objects in memory and never sees
the input bytes, so nothing here raises for bad input.
"""

from __future__ import annotations

import io
from functools import lru_cache
from typing import Literal

import numpy as np
from PIL import Image, ImageCms, ImageFilter

from processing import image_blurhash
from processing.rendition import fit_width, fit_within

__all__ = ["fit_width", "fit_within"]  # the geometry lives with the renditions (no Pillow there)

# EXIF orientation value -> the transpose that makes the picture upright.
_UPRIGHT: dict[int, Image.Transpose] = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))

RESAMPLE: dict[str, Image.Resampling] = {
    "lanczos": Image.Resampling.LANCZOS,
    "bicubic": Image.Resampling.BICUBIC,
    "hamming": Image.Resampling.HAMMING,
    "bilinear": Image.Resampling.BILINEAR,
}


def cover_size(width: int, height: int, side: int) -> tuple[int, int]:
    """The whole picture scaled so that its short side is `side` (what a cover crop starts from)."""
    scale = side / min(width, height)
    return max(side, round(width * scale)), max(side, round(height * scale))


Crop = Literal["attention", "centre"]


def cover_thumbnail(img: Image.Image, side: int, crop: Crop = "attention") -> Image.Image:
    """A `side` x `side` square of the picture; resizing straight from the crop box avoids a copy.

    `attention` keeps the most salient square (see `attention_offset`), `centre` the middle one.
    LANCZOS costs next to nothing at this size and keeps small thumbnails crisp.
    """
    width, height = img.size
    short = min(width, height)
    spare = max(width, height) - short
    offset = min(attention_offset(img), spare) if crop == "attention" else spare / 2
    left, top = (offset, 0) if width > height else (0, offset)
    box = (left, top, left + short, top + short)
    return img.resize((side, side), Image.Resampling.LANCZOS, box=box, reducing_gap=3.0)


# How many pixels the long side of the saliency map has: enough to place a square to within 1 %.
_SALIENCY_SIDE = 128


def attention_offset(img: Image.Image) -> float:
    """Where along its long side the most salient square of the picture starts, in its pixels.

    libvips' "attention" crop, the one sharp uses, in the same spirit: edges (detail), saturated
    colour and skin tones add up to a saliency map, and the square window holding most of it wins.
    Measured on a map of 128 pixels a side, so it costs about a millisecond at any size.
    """
    width, height = img.size
    if width == height:
        return 0.0
    small = img.convert("RGB").resize(fit_within(width, height, _SALIENCY_SIDE), Image.Resampling.BILINEAR)
    rgb = np.asarray(small, dtype=np.float32) / 255
    edges = np.asarray(small.convert("L").filter(ImageFilter.FIND_EDGES), dtype=np.float32) / 255
    high, low = rgb.max(axis=2), rgb.min(axis=2)
    # saturation as HSV has it; very dark pixels are not colourful, whatever their ratio says
    saturation = np.where(high > 0.2, (high - low) / np.maximum(high, 1e-6), 0)
    red, green, blue = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    # the classic RGB skin-tone rule (Kovac et al.), which libvips' skin term also approximates
    skin = (red > 0.37) & (green > 0.16) & (blue > 0.08) & (red > green) & (red > blue) & (red - low > 0.06)
    saliency = edges * 2 + saturation + skin * 1.5
    profile = saliency.sum(axis=0 if width > height else 1)  # saliency per column (landscape) or row
    window = min(small.size)
    sums = np.convolve(profile, np.ones(window), mode="valid")  # every square window's total
    best = int(np.flatnonzero(sums >= sums.max() - 1e-6).mean().round())  # the middle of ties
    return best * max(width, height) / max(small.size)


def orientation_of(img: Image.Image) -> int:
    """The EXIF orientation (1-8), 1 where the tag is missing or nonsense."""
    try:
        value = img.getexif().get(0x0112, 1)
    except (OSError, SyntaxError, ValueError, TypeError):  # a broken EXIF block is not worth a rejection
        return 1
    return value if value in _UPRIGHT else 1


def upright(img: Image.Image, orientation: int) -> Image.Image:
    transpose = _UPRIGHT.get(orientation)
    return img.transpose(transpose) if transpose is not None else img


def normalize_mode(img: Image.Image) -> Image.Image:
    """Bring any decoded mode to one that resamples correctly: L, LA, RGB, RGBA or CMYK.

    16-bit greyscale is scaled down (Pillow's own conversion would clip it to
    white), as is float; fully opaque alpha is dropped so the encoder does not
    store it.
    """
    mode = img.mode
    if mode.startswith("I;16") or mode == "I":
        img = img.convert("I").point(lambda v: v * (1 / 256)).convert("L")
    elif mode == "F":
        # Float images usually hold 0.0-1.0; anything larger is taken as 0-255 already.
        scale = 255 if img.getextrema()[1] <= 1.0 else 1  # type: ignore[operator]
        img = img.point(lambda v: v * scale).convert("L")
    elif mode == "1":
        img = img.convert("L")
    elif mode in ("P", "PA"):
        img = img.convert("RGBA" if img.has_transparency_data else "RGB")
    elif mode in ("La", "RGBa"):
        img = img.convert(mode.upper())
    elif mode == "L" and "transparency" in img.info:
        img = img.convert("LA")
    elif mode == "RGB" and "transparency" in img.info:
        img = img.convert("RGBA")
    elif mode not in ("L", "LA", "RGB", "RGBA", "CMYK"):
        img = img.convert("RGB")
    if img.mode in ("LA", "RGBA") and not has_transparency(img):
        img = img.convert(img.mode[:-1])
    return img


def has_transparency(img: Image.Image) -> bool:
    """Whether any pixel is not fully opaque (the alpha band alone: 4x cheaper than all extrema)."""
    return img.mode in ("LA", "RGBA") and img.getchannel("A").getextrema()[0] < 255


@lru_cache(maxsize=16)
def _transform_to_srgb(icc: bytes, mode: str) -> ImageCms.ImageCmsTransform | None:
    """A cached transform from an embedded profile to sRGB, or None where none is needed or possible."""
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if "srgb" in ImageCms.getProfileDescription(profile).lower().replace(" ", ""):
            return None
        out_mode = "RGBA" if mode == "RGBA" else "RGB"
        return ImageCms.buildTransform(profile, _SRGB, mode, out_mode, renderingIntent=ImageCms.Intent.PERCEPTUAL)
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return None  # a broken or mismatched profile is ignored: the pixels are shown as sRGB


def to_srgb(img: Image.Image, icc: bytes | None) -> Image.Image:
    """Convert to sRGB through the embedded profile, so wide-gamut and CMYK colours survive."""
    if icc and img.mode in ("RGB", "RGBA", "CMYK"):
        transform = _transform_to_srgb(icc, img.mode)
        if transform is not None:
            return transform.apply(img)
    if img.mode == "CMYK":
        return img.convert("RGB")  # no usable profile: Pillow's naive conversion is the best guess
    return img


def placeholder(img: Image.Image) -> str:
    """A BlurHash of the whole picture (transparent areas shown over white, as on most pages)."""
    # 4 x 3 components only see the coarsest shapes: 24 pixels a side is plenty.
    small = img.resize(fit_within(*img.size, 24), Image.Resampling.BILINEAR, reducing_gap=2.0)
    if small.mode in ("LA", "RGBA"):
        background = Image.new("RGBA", small.size, (255, 255, 255, 255))
        small = Image.alpha_composite(background, small.convert("RGBA"))
    small = small.convert("RGB")
    landscape = small.width >= small.height
    return image_blurhash.encode(small, 4 if landscape else 3, 3 if landscape else 4)
