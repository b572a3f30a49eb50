"""What the image engine is asked to make, without loading Pillow (the app declares outputs with it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Rendition:
    """One WebP image: `cover` crops the picture to a `size` x `size` square, `within` fits its longest
    side in `size` (never enlarged)."""

    name: str
    filename: str
    fit: Literal["cover", "within"]
    size: int
    content_type: str = "image/webp"

    def __post_init__(self) -> None:
        if self.fit not in ("cover", "within") or self.size < 1:
            raise ValueError(f"rendition {self.name}: fit must be cover or within and size positive")
