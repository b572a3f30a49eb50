"""The served original of an image: the checked bytes, rewritten without what can be dropped losslessly.

Pure byte-level work on files (no Django, no decoding, not a pixel changed):

- JPEG: the segments a decoder needs (tables, frames, scans, JFIF, the ICC
  profile, Adobe's colour transform) up to the end-of-image marker. EXIF, XMP,
  IPTC and comments are dropped; the EXIF orientation alone is written back so
  the photo still shows upright.
- PNG: every chunk up to IEND except text, time and EXIF chunks.
- WebP: the RIFF container's declared length (what follows it is not WebP).

Whatever followed the image's own end (a `<script>` tail, a zip of a polyglot)
never reaches the served original. Other formats are served as checked.
`clean_original` is the one place to extend (GPS and the rest of the metadata
of other formats).
"""

from __future__ import annotations

import struct
from pathlib import Path

from PIL import Image

from processing.codes import ErrorCode
from processing.errors import Rejected

# JPEG markers without a length field
_STANDALONE = {0x01, *range(0xD0, 0xD8)}
_SOS, _EOI, _APP1 = 0xDA, 0xD9, 0xE1
# metadata segments: EXIF/XMP (APP1), APP3..APP13 (IPTC is APP13), APP15, COM
_JPEG_DROPPED = {_APP1, *range(0xE3, 0xEE), 0xEF, 0xFE}
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_DROPPED = {b"tEXt", b"zTXt", b"iTXt", b"tIME", b"eXIf"}


def clean_original(src: Path, dst: Path, family: str) -> Path | None:
    """Write the servable original of `src` to `dst` and return it; None for formats served as checked."""
    cleaner = {"jpeg": _jpeg, "png": _png, "webp": _webp}.get(family)
    if cleaner is None:
        return None
    data = src.read_bytes()
    try:
        dst.write_bytes(cleaner(data, _orientation(src) if family == "jpeg" else 1))
    except (struct.error, IndexError, ValueError) as exc:
        raise Rejected(ErrorCode.CORRUPT_FILE, "The image is damaged and cannot be read.", f"original: {exc}") from exc
    return dst


def _orientation(src: Path) -> int:
    with Image.open(src) as img:  # the header only; the file was decoded and checked already
        return int(img.getexif().get(0x0112, 1) or 1)


def _jpeg(data: bytes, orientation: int) -> bytes:
    if data[:2] != b"\xff\xd8":
        raise ValueError("no JPEG start-of-image")
    out = [data[:2]]
    if orientation != 1:
        exif = Image.Exif()
        exif[0x0112] = orientation
        payload = b"Exif\x00\x00" + exif.tobytes()
        out.append(b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload)
    pos = 2
    while True:
        while data[pos + 1] == 0xFF:  # fill bytes before a marker
            pos += 1
        if data[pos] != 0xFF:
            raise ValueError(f"no JPEG marker at {pos}")
        marker = data[pos + 1]
        if marker == _EOI:
            out.append(data[pos : pos + 2])
            return b"".join(out)
        if marker in _STANDALONE:
            out.append(data[pos : pos + 2])
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        end = pos + 2 + length
        if end > len(data):
            raise ValueError("a JPEG segment runs past the end of the file")
        if marker == _SOS:
            end = _entropy_end(data, end)
        if marker not in _JPEG_DROPPED:
            out.append(data[pos:end])
        pos = end


def _entropy_end(data: bytes, pos: int) -> int:
    """The offset of the first marker after a scan's entropy-coded data (0xFF00 and restarts are data)."""
    while True:
        pos = data.index(b"\xff", pos)
        following = data[pos + 1]
        if following == 0x00 or 0xD0 <= following <= 0xD7 or following == 0xFF:
            pos += 1
            continue
        return pos


def _png(data: bytes, orientation: int) -> bytes:
    if data[:8] != _PNG_SIGNATURE:
        raise ValueError("no PNG signature")
    out, pos = [data[:8]], 8
    while True:
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, end = data[pos + 4 : pos + 8], pos + 12 + length
        if end > len(data):
            raise ValueError("a PNG chunk runs past the end of the file")
        if kind not in _PNG_DROPPED:
            out.append(data[pos:end])
        if kind == b"IEND":
            return b"".join(out)
        pos = end


def _webp(data: bytes, orientation: int) -> bytes:
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise ValueError("no RIFF/WEBP header")
    (size,) = struct.unpack("<I", data[4:8])
    if 8 + size > len(data):
        raise ValueError("the RIFF container is longer than the file")
    return data[: 8 + size]
