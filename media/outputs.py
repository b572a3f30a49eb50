"""Every output a media can have, declared once as data.

A declaration names the output (the key in the API's `urls` and the row in
MediaOutput), the kinds that make it, its file under `permanent/<id>/`, its
content type and how it is built. Pipelines make what a media lacks, so
re-running them after a new declaration fills it in for existing media
(`manage.py fill_outputs`); the API, events, admin and upload page read the
declarations. Adding an output is a declaration here, plus a builder in
`media.pipeline` if it is not an image rendition: no migration.

The responsive widths (`IMAGE_WIDTHS`, each in every `IMAGE_SOURCE_TYPES`) are
declared from settings: they are `source` outputs, offered together as the
API's `urls.sources` (for `<picture>` and `srcset`) rather than one key each.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from typing import Literal

from django.conf import settings

from media.models import Kind, Media
from processing import formats, hls
from processing.rendition import Rendition

PDF_TYPES = formats.BY_NAME["pdf"].types
# The settings each encoder's output depends on (what media.engines hands to processing.images' save_options).
_ENCODER_SETTINGS = {"image/webp": ["IMAGE_QUALITY"], "image/avif": ["IMAGE_AVIF_QUALITY", "IMAGE_AVIF_SPEED"]}


@dataclass(frozen=True)
class Output:
    name: str
    kinds: frozenset[str]
    filename: str  # under the media's permanent/<id>/ folder
    content_type: str
    builder: Literal[
        "image", "video_thumbnail", "hls", "storyboard", "waveform", "preview"
    ]  # the pipeline step that makes it
    fit: Literal["cover", "within", "width"] = "within"  # image renditions: see processing.rendition
    size: int | str = 0  # image renditions: pixels, or the name of the setting that holds them
    playlist: bool = False  # served through the signed HLS playlist view, not a presigned URL
    types: frozenset[str] = frozenset()  # only media of these content types make it (empty: every one of the kinds)
    view: str = ""  # served by this signed Django view (its URLs inside need fresh signatures), not presigned
    source: bool = False  # one of the responsive widths: listed in `urls.sources`, not under its own name

    def rendition(self) -> Rendition:
        size = getattr(settings, self.size) if isinstance(self.size, str) else self.size
        return Rendition(self.name, self.filename, self.fit, size, self.content_type)

    def spec(self) -> str:
        """A fingerprint of everything that decides an image rendition's pixels and bytes: a row made under other
        settings is stale. Other outputs answer "" (not tracked)."""
        if self.builder != "image":
            return ""
        rendition = self.rendition()
        tunables = [*_ENCODER_SETTINGS[self.content_type], *(["IMAGE_THUMB_CROP"] if self.fit == "cover" else [])]
        text = repr((rendition.fit, rendition.size, rendition.content_type, *(getattr(settings, n) for n in tunables)))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def key(self, media: Media) -> str:
        return f"{media.permanent_prefix}{self.filename}"


OUTPUTS: tuple[Output, ...] = (
    Output("thumbnail", frozenset({Kind.IMAGE}), "thumb.webp", "image/webp", "image", "cover", "IMAGE_THUMB_SIZE"),
    Output(
        "optimized", frozenset({Kind.IMAGE}), "optimized.webp", "image/webp", "image", "within", "IMAGE_OPTIMIZED_MAX"
    ),
    Output("thumbnail", frozenset({Kind.VIDEO}), "thumb.webp", "image/webp", "video_thumbnail"),
    Output("hls", frozenset({Kind.VIDEO}), "hls/master.m3u8", hls.PLAYLIST_CONTENT_TYPE, "hls", playlist=True),
    # The WebVTT of scrubbing previews; its sprite sheet is stored beside it (storyboard.webp).
    Output("storyboard", frozenset({Kind.VIDEO}), "storyboard.vtt", "text/vtt", "storyboard", view="media-storyboard"),
    # Peaks in audiowaveform's JSON (peaks.js, wavesurfer.js) and a small PNG of them, from one decode.
    Output("waveform", frozenset({Kind.AUDIO}), "waveform.json", "application/json", "waveform"),
    Output("waveform_image", frozenset({Kind.AUDIO}), "waveform.png", "image/png", "waveform"),
    Output("preview", frozenset({Kind.DOCUMENT}), "preview.webp", "image/webp", "preview", types=frozenset(PDF_TYPES)),
)


def responsive() -> tuple[Output, ...]:
    """One image output per width of IMAGE_WIDTHS and type of IMAGE_SOURCE_TYPES, e.g. `avif_640` in `w640.avif`."""
    return _responsive(tuple(settings.IMAGE_WIDTHS), tuple(settings.IMAGE_SOURCE_TYPES))


@functools.cache  # every answer of the API reads the declarations: build them once per value of the settings
def _responsive(widths: tuple[int, ...], types: tuple[str, ...]) -> tuple[Output, ...]:
    return tuple(
        Output(
            f"{ext}_{width}",
            frozenset({Kind.IMAGE}),
            f"w{width}.{ext}",
            content_type,
            "image",
            "width",
            width,
            source=True,
        )
        for width in sorted(set(widths))
        for content_type in types
        for ext in [content_type.split("/")[1]]
    )


def declared_outputs() -> tuple[Output, ...]:
    return (*OUTPUTS, *responsive())


def names() -> list[str]:
    """Every output with a key of its own in the API's `urls` (after `original`), once each, in declaration order."""
    return list(dict.fromkeys(output.name for output in declared_outputs() if not output.source))


def of_kind(kind: str) -> tuple[Output, ...]:
    return tuple(output for output in declared_outputs() if kind in output.kinds)


def declared(media: Media, name: str) -> Output | None:
    return next((output for output in of_kind(media.kind) if output.name == name), None)


def of_media(media: Media) -> tuple[Output, ...]:
    """The declared outputs of the media's kind and content type (none for a plain text document, say)."""
    return tuple(output for output in of_kind(media.kind) if not output.types or media.content_type in output.types)


def missing(media: Media) -> tuple[Output, ...]:
    """The declared outputs of the media's kind (and content type) that it has no row for yet, or one made
    under other settings."""
    declared = of_media(media)
    if not declared:  # nothing to look up
        return ()
    made = dict(media.outputs.values_list("name", "spec"))
    return tuple(output for output in declared if made.get(output.name) != output.spec())
