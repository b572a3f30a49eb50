"""The formats mediahub accepts, declared once: settings defaults, sniffing, the decoders the engines
allow and the upload page all read this table.

Each format is a family of files that are stored and served the same way. `accepts` are the content
types a client declares for it that are accepted by default (settings' *_TYPES); `matches` are other
names that libmagic or clients use for the same bytes, so they are recognised but not accepted on
their own. Every name of a format, accepted or matched, sniffs as that format.
"""

from __future__ import annotations

from dataclasses import dataclass

IMAGE, VIDEO, AUDIO, DOCUMENT = "image", "video", "audio", "document"
KINDS = (IMAGE, VIDEO, AUDIO, DOCUMENT)


@dataclass(frozen=True)
class Format:
    name: str
    kind: str
    content_type: str  # what the stored original is served as
    extensions: tuple[str, ...]  # the first is the stored original's
    label: str  # what users call it, for messages: "a PNG image"
    decoder: str = ""  # the Pillow format or ffmpeg demuxer allowed to read it ("" when neither reads it)
    accepts: tuple[str, ...] = ()  # declared types accepted by default
    matches: tuple[str, ...] = ()  # other names of the same bytes

    @property
    def extension(self) -> str:
        return self.extensions[0]

    @property
    def types(self) -> tuple[str, ...]:
        return (self.content_type.split(";")[0], *self.accepts, *self.matches)


_OOXML = "application/vnd.openxmlformats-officedocument"
FORMATS: tuple[Format, ...] = (
    Format("jpeg", IMAGE, "image/jpeg", ("jpg", "jpeg"), "a JPEG image", "JPEG", ("image/jpeg",)),
    Format("png", IMAGE, "image/png", ("png",), "a PNG image", "PNG", ("image/png",)),
    Format("webp", IMAGE, "image/webp", ("webp",), "a WebP image", "WEBP", ("image/webp",)),
    Format("gif", IMAGE, "image/gif", ("gif",), "a GIF image", "GIF", ("image/gif",)),
    Format("avif", IMAGE, "image/avif", ("avif",), "an AVIF image", "AVIF", ("image/avif",)),
    Format(
        "heif", IMAGE, "image/heic", ("heic", "heif"), "a HEIC image", "HEIF", ("image/heic", "image/heif"),
        ("image/heic-sequence", "image/heif-sequence"),
    ),
    Format("tiff", IMAGE, "image/tiff", ("tiff", "tif"), "a TIFF image", "TIFF", ("image/tiff",)),
    Format("bmp", IMAGE, "image/bmp", ("bmp",), "a BMP image", "BMP", ("image/bmp",), ("image/x-ms-bmp",)),
    # ISO media files: libmagic names them by brand, which says little about the content
    Format(
        "isobmff", VIDEO, "video/mp4", ("mp4", "m4v"), "an MP4 video", "mov", ("video/mp4",),
        ("video/quicktime", "video/x-m4v", "video/3gpp"),
    ),
    Format(
        "quicktime", VIDEO, "video/quicktime", ("mov",), "a QuickTime video", "mov", ("video/quicktime",),
        ("video/mp4",),
    ),
    Format(
        "matroska", VIDEO, "video/webm", ("webm", "mkv"), "a WebM video", "matroska", ("video/webm", "video/x-matroska")
    ),
    Format("mp3", AUDIO, "audio/mpeg", ("mp3",), "an MP3 audio file", "mp3", ("audio/mpeg",), ("audio/mp3",)),
    Format(
        "m4a", AUDIO, "audio/mp4", ("m4a",), "an M4A audio file", "mov", ("audio/mp4", "audio/x-m4a"),
        ("video/mp4", "audio/aac"),  # apps send audio/aac for .m4a too
    ),
    Format(
        "aac", AUDIO, "audio/aac", ("aac",), "an AAC audio file", "aac", ("audio/aac",),
        ("audio/x-hx-aac-adts", "audio/x-aac"),
    ),
    Format(
        "wav", AUDIO, "audio/wav", ("wav",), "a WAV audio file", "wav", ("audio/wav", "audio/x-wav"),
        ("audio/wave", "audio/vnd.wave"),
    ),
    Format("flac", AUDIO, "audio/flac", ("flac",), "a FLAC audio file", "flac", ("audio/flac",), ("audio/x-flac",)),
    Format("ogg", AUDIO, "audio/ogg", ("ogg", "opus"), "an Ogg audio file", "ogg", ("audio/ogg", "audio/opus")),
    Format("pdf", DOCUMENT, "application/pdf", ("pdf",), "a PDF document", accepts=("application/pdf",)),
    Format(
        "docx", DOCUMENT, f"{_OOXML}.wordprocessingml.document", ("docx",), "a Word document",
        accepts=(f"{_OOXML}.wordprocessingml.document",),
    ),
    Format(
        "xlsx", DOCUMENT, f"{_OOXML}.spreadsheetml.sheet", ("xlsx",), "an Excel spreadsheet",
        accepts=(f"{_OOXML}.spreadsheetml.sheet",),
    ),
    Format(
        "pptx", DOCUMENT, f"{_OOXML}.presentationml.presentation", ("pptx",), "a PowerPoint presentation",
        accepts=(f"{_OOXML}.presentationml.presentation",),
    ),
    Format(
        "odt", DOCUMENT, "application/vnd.oasis.opendocument.text", ("odt",), "an OpenDocument text",
        accepts=("application/vnd.oasis.opendocument.text",),
    ),
    Format(
        "text", DOCUMENT, "text/plain; charset=utf-8", ("txt",), "a text file", accepts=("text/plain",),
        matches=("text/csv",),
    ),
)  # fmt: skip

BY_NAME: dict[str, Format] = {f.name: f for f in FORMATS}


def accepted_types(kind: str) -> list[str]:
    """The declared content types accepted for a kind by default (settings' IMAGE_TYPES and the like)."""
    return list(dict.fromkeys(t for f in FORMATS if f.kind == kind for t in f.accepts))


def families_of_type() -> dict[str, frozenset[str]]:
    """Every content type, declared or detected, and the formats whose bytes it may name."""
    table: dict[str, set[str]] = {}
    for f in FORMATS:
        for content_type in f.types:
            table.setdefault(content_type, set()).add(f.name)
    return {content_type: frozenset(names) for content_type, names in table.items()}


def decoders(kind: str) -> tuple[str, ...]:
    """The Pillow formats or ffmpeg demuxers that may read uploads of a kind: no other ever sees one."""
    return tuple(dict.fromkeys(f.decoder for f in FORMATS if f.kind == kind and f.decoder))


def extension_types() -> dict[str, str]:
    """File extension -> declared content type, for clients whose browser names no type (the upload page)."""
    return {ext: f.accepts[0] for f in FORMATS if f.accepts for ext in f.extensions}
