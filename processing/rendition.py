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
