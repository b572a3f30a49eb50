"""BlurHash encoder (https://blurha.sh), the placeholder clients paint while the image loads.

A port of the reference C encoder (woltapp/blurhash), kept here because the
Python bindings on PyPI are unmaintained and use `Image.getdata`, which
Pillow 14 removes. It runs on a picture of about 20 pixels a side, so plain
Python costs well under a millisecond; the cosine sums are done separably,
rows first.
"""

from __future__ import annotations

import math

from PIL import Image

_BASE83 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~"
_LINEAR = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in (v / 255 for v in range(256))]


def _base83(value: int, length: int) -> str:
    return "".join(_BASE83[value // 83 ** (length - 1 - i) % 83] for i in range(length))


def _to_srgb(value: float) -> int:
    v = max(0.0, min(1.0, value))
    return int(v * 12.92 * 255 + 0.5) if v <= 0.0031308 else int((1.055 * v ** (1 / 2.4) - 0.055) * 255 + 0.5)


def _quantise_ac(value: float, maximum: float) -> int:
    scaled = math.copysign(abs(value / maximum) ** 0.5, value)
    return max(0, min(18, math.floor(scaled * 9 + 9.5)))


def encode(img: Image.Image, x_components: int, y_components: int) -> str:
    """The BlurHash of an RGB image; keep it small (it is O(pixels x components))."""
    if not (1 <= x_components <= 9 and 1 <= y_components <= 9):
        raise ValueError("BlurHash takes 1-9 components each way")
    rgb = img if img.mode == "RGB" else img.convert("RGB")
    width, height = rgb.size
    linear = [_LINEAR[byte] for byte in rgb.tobytes()]
    # rows[i][y]: the row y weighted by the horizontal cosine i, per channel.
    rows: list[list[tuple[float, float, float]]] = []
    for i in range(x_components):
        basis = [math.cos(math.pi * i * x / width) for x in range(width)]
        per_row = []
        for y in range(height):
            start = 3 * y * width
            r = g = b = 0.0
            for x, weight in enumerate(basis):
                k = start + 3 * x
                r += weight * linear[k]
                g += weight * linear[k + 1]
                b += weight * linear[k + 2]
            per_row.append((r, g, b))
        rows.append(per_row)
    factors: list[tuple[float, float, float]] = []
    for j in range(y_components):
        basis = [math.cos(math.pi * j * y / height) for y in range(height)]
        for i in range(x_components):
            scale = (1 if i == j == 0 else 2) / (width * height)
            sums = [sum(weight * row[c] for weight, row in zip(basis, rows[i], strict=True)) for c in range(3)]
            factors.append((sums[0] * scale, sums[1] * scale, sums[2] * scale))

    dc, ac = factors[0], factors[1:]
    result = _base83((x_components - 1) + (y_components - 1) * 9, 1)
    if ac:
        quantised_max = max(0, min(82, math.floor(max(abs(v) for f in ac for v in f) * 166 - 0.5)))
        maximum = (quantised_max + 1) / 166
    else:
        quantised_max, maximum = 0, 1.0
    result += _base83(quantised_max, 1)
    result += _base83((_to_srgb(dc[0]) << 16) + (_to_srgb(dc[1]) << 8) + _to_srgb(dc[2]), 4)
    for r, g, b in ac:
        result += _base83(_quantise_ac(r, maximum) * 361 + _quantise_ac(g, maximum) * 19 + _quantise_ac(b, maximum), 2)
    return result
