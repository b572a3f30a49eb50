"""HLS playback from a private bucket.

Nothing in the bucket is public, so a player cannot follow the relative URIs
ffmpeg wrote. The API serves each playlist itself and passes it through
`rewrite_playlist` with a `resolve` that turns a segment path into a presigned
GET and a variant playlist path into the API's own (authenticated) URL.
"""

from __future__ import annotations

import math
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


def subtitle_playlist(vtt_name: str, duration: float) -> str:
    """A VOD media playlist of one WebVTT file covering the whole video."""
    return (
        f"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:{max(1, math.ceil(duration))}\n"
        f"#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:{duration:.3f},\n{vtt_name}\n#EXT-X-ENDLIST\n"
    )


def with_subtitles(master: str, tracks: list[tuple[str, str, str]], group: str = "subs") -> str:
    """The master with an EXT-X-MEDIA SUBTITLES entry per (name, language, uri) and every variant
    naming the group, so players offer the tracks."""
    entries = [
        f'#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="{group}",NAME="{name}",LANGUAGE="{language}",'
        f'DEFAULT=NO,AUTOSELECT=YES,URI="{uri}"'
        for name, language, uri in tracks
    ]
    lines = master.strip().splitlines()
    out = [lines[0], *entries]
    for line in lines[1:]:
        out.append(f'{line},SUBTITLES="{group}"' if line.startswith("#EXT-X-STREAM-INF:") else line)
    return "\n".join(out) + "\n"


def uris(text: str) -> list[str]:
    """Every URI an m3u8 names (URI lines and URI="..." attributes), in order, as written."""
    found = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#EXT"):
            found += _URI_ATTRIBUTE.findall(stripped)
        elif stripped and not stripped.startswith("#"):
            found.append(stripped)
    return found


def is_complete(text: str) -> bool:
    """Whether a media playlist is finished (no more segments will be appended)."""
    return any(line.strip() == "#EXT-X-ENDLIST" for line in text.splitlines())


def as_vod(text: str) -> str:
    """A finished EVENT playlist as the VOD playlist it now is (same segments, ENDLIST kept)."""
    if not is_complete(text):
        raise ValueError("only a finished playlist (with #EXT-X-ENDLIST) is a VOD playlist")
    return re.sub(r"^#EXT-X-PLAYLIST-TYPE:EVENT$", "#EXT-X-PLAYLIST-TYPE:VOD", text, flags=re.M)
