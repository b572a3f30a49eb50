"""Remove where a photo was taken from the original, in place, without re-encoding a pixel.

EXIF keeps the position in its GPS IFD, XMP in `exif:GPS*` properties. Both are
blanked where they lie, keeping every length, so no offset anywhere in the file
moves: one method for JPEG, WebP, HEIC/AVIF (whose `iloc` boxes point into the
file) and TIFF, and the picture data is untouched byte for byte. PNG chunks carry
a CRC, which is recomputed for the chunks that changed. The orientation tag and
everything else in EXIF stay, so the original still shows upright.
"""

from __future__ import annotations

import re
import struct
import zlib
from pathlib import Path

_GPS_IFD = 0x8825
_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8}
_TIFF_HEADERS = re.compile(rb"II\*\x00|MM\x00\*")
# XMP location: attributes (exif:GPSLatitude="...") and elements (<exif:GPSLatitude>...</exif:GPSLatitude>)
_XMP_GPS = re.compile(rb'exif:GPS\w+="[^"<>]*"|<exif:(GPS\w+)>.*?</exif:\1>', re.DOTALL)
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def strip_location(path: Path) -> bool:
    """Blank the GPS position of the image file at `path`; True when there was one."""
    data = bytearray(path.read_bytes())
    changed = _strip_png(data) if data.startswith(_PNG_SIGNATURE) else _strip(data)
    if changed:
        path.write_bytes(data)
    return changed


def _strip(data: bytearray, start: int = 0, end: int | None = None) -> bool:
    end = len(data) if end is None else end
    changed = False
    for match in _TIFF_HEADERS.finditer(data, start, end):
        changed |= _blank_gps_ifd(data, match.start(), end)
    for match in _XMP_GPS.finditer(data, start, end):
        data[match.start() : match.end()] = b" " * (match.end() - match.start())  # whitespace: still valid XML
        changed = True
    return changed


def _blank_gps_ifd(data: bytearray, tiff: int, end: int) -> bool:
    """Zero the GPS IFD of the TIFF structure at `tiff` and the values it points to (an empty IFD is valid)."""
    order = "<" if data[tiff : tiff + 2] == b"II" else ">"
    try:
        (ifd0,) = struct.unpack_from(order + "I", data, tiff + 4)
        (count,) = struct.unpack_from(order + "H", data, tiff + ifd0)
        if tiff + ifd0 + 2 + 12 * count > end:
            return False  # not a TIFF structure after all, or a broken one: left as it is
        gps = next(
            (
                struct.unpack_from(order + "I", data, entry + 8)[0]
                for entry in range(tiff + ifd0 + 2, tiff + ifd0 + 2 + 12 * count, 12)
                if struct.unpack_from(order + "H", data, entry)[0] == _GPS_IFD
            ),
            None,
        )
        if gps is None:
            return False
        start = tiff + gps
        (entries,) = struct.unpack_from(order + "H", data, start)
        if entries == 0 or start + 6 + 12 * entries > end:
            return False  # blanked already, or broken
        for entry in range(start + 2, start + 2 + 12 * entries, 12):
            kind, number, offset = struct.unpack_from(order + "HII", data, entry + 2)
            size = _TYPE_SIZES.get(kind, 1) * number
            if size > 4 and tiff + offset + size <= end:  # the value lies elsewhere: blank it too
                data[tiff + offset : tiff + offset + size] = bytes(size)
        data[start : start + 6 + 12 * entries] = bytes(6 + 12 * entries)  # no entries, no next IFD
    except struct.error:
        return False
    return True


def _strip_png(data: bytearray) -> bool:
    """Each chunk on its own (eXIf, and XMP in iTXt), with its CRC recomputed."""
    changed = False
    position = len(_PNG_SIGNATURE)
    while position + 12 <= len(data):
        (length,) = struct.unpack_from(">I", data, position)
        body = position + 8
        if body + length + 4 > len(data):
            break
        if data[position + 4 : body] in (b"eXIf", b"iTXt") and _strip(data, body, body + length):
            struct.pack_into(">I", data, body + length, zlib.crc32(data[position + 4 : body + length]))
            changed = True
        position = body + length + 4
    return changed
