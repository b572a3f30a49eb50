"""strip_location: the GPS position leaves the original, nothing else does, and no pixel changes."""

from __future__ import annotations

import io
from pathlib import Path

import pillow_heif
import pytest
from PIL import Image, ImageChops

from processing.image_location import strip_location
from tests.helpers import CORPUS

GPS = {1: "N", 2: (52.0, 31.0, 12.5), 3: "E", 4: (13.0, 24.0, 36.0)}  # GPSLatitudeRef, GPSLatitude, ...
XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="52,31.2N">'
    b"<exif:GPSLongitude>13,24.6E</exif:GPSLongitude></rdf:Description></rdf:RDF></x:xmpmeta>"
)


def photo_with_position(fmt: str, path: Path) -> Path:
    img = Image.effect_mandelbrot((96, 64), (-2, -1, 1, 1), 50).convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate to show upright
    exif[0x010F] = "Camera maker"
    exif.get_ifd(0x8825).update(GPS)
    if fmt == "HEIF":
        pillow_heif.from_pillow(img).save(path, exif=exif.tobytes(), xmp=XMP, quality=90)
        return path
    options = {"xmp": XMP} if fmt in ("JPEG", "WEBP", "PNG") else {}
    img.save(path, fmt, exif=exif.tobytes(), **options)
    return path


def decoded(path: Path) -> Image.Image:
    with Image.open(path) as img:
        return img.convert("RGB")


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "TIFF", "HEIF"])
def test_position_removed_pixels_and_orientation_kept(fmt: str, tmp_path: Path) -> None:
    pillow_heif.register_heif_opener()
    path = photo_with_position(fmt, tmp_path / f"photo.{fmt.lower()}")
    before_bytes, before = path.read_bytes(), decoded(path)
    with Image.open(path) as img:
        assert img.getexif().get_ifd(0x8825)  # the position is really there to begin with
        orientation = img.getexif().get(0x0112)  # HEIF keeps it in its irot box: pillow-heif says 1 here

    assert strip_location(path) is True
    after_bytes = path.read_bytes()
    assert len(after_bytes) == len(before_bytes) and after_bytes != before_bytes  # blanked in place
    assert ImageChops.difference(before, decoded(path)).getbbox() is None  # the same pixels, exactly
    with Image.open(path) as img:
        exif = img.getexif()
        assert not exif.get_ifd(0x8825)
        assert (exif.get(0x0112), exif.get(0x010F)) == (orientation, "Camera maker")  # the rest of EXIF stays
        xmp = img.info.get("xmp") or b""
    assert b"GPS" not in after_bytes and b"52,31" not in after_bytes and b"13,24" not in after_bytes
    assert b"GPS" not in (xmp if isinstance(xmp, bytes) else xmp.encode())
    assert strip_location(path) is False  # nothing left to take out: the file is not written again


def test_a_photo_without_position_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "plain.jpg"
    Image.new("RGB", (32, 32), (10, 20, 30)).save(path)
    before = path.read_bytes()
    assert strip_location(path) is False and path.read_bytes() == before


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"shared corpus not found at {CORPUS}")
@pytest.mark.parametrize("name", ["camera/DSCN0010.jpg", "camera/DSCN0021.jpg", "heic/iphone_13_pro_max.HEIC"])
def test_corpus_photos_lose_their_position_only(name: str, tmp_path: Path) -> None:
    pillow_heif.register_heif_opener()
    path = tmp_path / Path(name).name
    path.write_bytes((CORPUS / name).read_bytes())
    before = decoded(path)
    with Image.open(path) as img:
        had = dict(img.getexif().get_ifd(0x8825))
        orientation = img.getexif().get(0x0112)
    assert strip_location(path) is bool(had)
    assert ImageChops.difference(before, decoded(path)).getbbox() is None
    with Image.open(io.BytesIO(path.read_bytes())) as img:
        assert not img.getexif().get_ifd(0x8825) and img.getexif().get(0x0112) == orientation
