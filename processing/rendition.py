"""What the image engine is asked to make, without loading Pillow (the app declares outputs with it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# content type -> Pillow encoder: the formats a rendition can be written in
ENCODERS = {"image/webp": "WEBP", "image/avif": "AVIF"}


@dataclass(frozen=True)
class Rendition:
    """One image: `cover` crops the picture to a `size` x `size` square, `within` fits its longest side in
    `size`, `width` its width (what a `srcset` width means); neither of the last two ever enlarges."""

    name: str
    filename: str
    fit: Literal["cover", "within", "width"]
    size: int
    content_type: str = "image/webp"

    def __post_init__(self) -> None:
        if self.fit not in ("cover", "within", "width") or self.size < 1:
            raise ValueError(f"rendition {self.name}: fit must be cover, within or width and size positive")
        if self.content_type not in ENCODERS:
            raise ValueError(f"rendition {self.name}: content type must be one of {sorted(ENCODERS)}")

    @property
    def encoder(self) -> str:
        return ENCODERS[self.content_type]

    def scaled_size(self, width: int, height: int) -> tuple[int, int]:
        """The size of this rendition of an upright `width` x `height` picture."""
        if self.fit == "cover":
            return self.size, self.size
        return (fit_width if self.fit == "width" else fit_within)(width, height, self.size)


def fit_within(width: int, height: int, longest: int) -> tuple[int, int]:
    """The size with the longest side at most `longest`, aspect kept, never larger than the input."""
    scale = longest / max(width, height)
    if scale >= 1:
        return width, height
    return max(1, round(width * scale)), max(1, round(height * scale))


def fit_width(width: int, height: int, limit: int) -> tuple[int, int]:
    """The size with the width at most `limit`, aspect kept, never larger than the input (a `srcset` width)."""
    if width <= limit:
        return width, height
    return limit, max(1, round(height * limit / width))
