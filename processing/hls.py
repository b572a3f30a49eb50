"""HLS playback from a private bucket.

Nothing in the bucket is public, so a player cannot follow the relative URIs
ffmpeg wrote. The API serves each playlist itself and passes it through
`rewrite_playlist` with a `resolve` that turns a segment path into a presigned
GET and a variant playlist path into the API's own (authenticated) URL.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import PurePosixPath

PLAYLIST_CONTENT_TYPE = "application/vnd.apple.mpegurl"

CONTENT_TYPES = {
    ".m3u8": PLAYLIST_CONTENT_TYPE,
    ".ts": "video/mp2t",
    ".m4s": "video/iso.segment",
    ".mp4": "video/mp4",
    ".m4a": "audio/mp4",
    ".aac": "audio/aac",
    ".vtt": "text/vtt",
    ".webp": "image/webp",
}

_URI_ATTRIBUTE = re.compile(r'URI="([^"]*)"')


def content_type(name: str) -> str:
    """The Content-Type to store an HLS output file with."""
    return CONTENT_TYPES.get(PurePosixPath(name).suffix.lower(), "application/octet-stream")


def rewrite_playlist(text: str, resolve: Callable[[str], str]) -> str:
    """Pass every URI of an m3u8 (the URI lines and the URI="..." attributes of tags such as
    EXT-X-MAP, EXT-X-KEY and EXT-X-MEDIA) through `resolve`; everything else is kept as is."""
    if not text.lstrip("\ufeff").startswith("#EXTM3U"):
        raise ValueError("not an m3u8 playlist")
    lines = []
    for line in text.lstrip("\ufeff").splitlines():
        stripped = line.strip()
        if not stripped:
            lines.append("")
        elif stripped.startswith("#EXT"):
            lines.append(_URI_ATTRIBUTE.sub(lambda m: f'URI="{_checked(resolve(m.group(1)))}"', stripped))
        elif stripped.startswith("#"):
            lines.append(stripped)  # a comment
        else:
            lines.append(_checked(resolve(stripped)))
    return "\n".join(lines) + "\n"


def _checked(uri: str) -> str:
    # A resolved URI must stay one line and one attribute value: it must not inject tags.
    if any(c in uri for c in '"\r\n') or not uri:
        raise ValueError(f"unusable URI from resolve: {uri!r}")
    return uri
