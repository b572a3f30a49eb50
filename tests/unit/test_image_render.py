"""render_image on real files: the shared corpus and small images made here.

Pure image processing: no Django, no services. The corpus tests skip with a
reason when ../shared/corpus is absent.
"""

from __future__ import annotations

import io
import os
import random
import resource
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageChops, ImageCms, ImageStat

from processing.errors import Rejected
from processing.images import ImageSpec, Rendition, default_renditions, probe_image, render_image
from tests.helpers import CORPUS, webp_chunks

needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"shared corpus not found at {CORPUS}")
# Small outputs keep the corpus tests fast; the pipeline is the same at any size.
SMALL = ImageSpec(optimized_max=256)
DEFAULT = ImageSpec()
CENTRE = ImageSpec(crop="centre")
# Metadata a WebP file may carry; none of it may reach an output.
METADATA_CHUNKS = {b"EXIF", b"XMP ", b"ICCP"}


def mean_difference(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute difference per channel, 0-255, of two same-sized images."""
    return sum(ImageStat.Stat(ImageChops.difference(a.convert("RGB"), b.convert("RGB"))).mean) / 3


def pixel(path: Path, xy: tuple[int, int] = (0, 0)) -> tuple[int, ...]:
    with Image.open(path) as img:
        return img.convert("RGBA").getpixel(xy)


def assert_renditions(result, optimized_size: tuple[int, int]) -> None:
    assert set(result.files) == {r.name for r in default_renditions(ImageSpec())}
    with Image.open(result.files["thumbnail"]) as thumb:
        assert (thumb.format, thumb.size) == ("WEBP", (150, 150))
    with Image.open(result.files["optimized"]) as optimized:
        assert (optimized.format, optimized.size) == ("WEBP", optimized_size)


# --- the corpus ---------------------------------------------------------------------------


@needs_corpus
@pytest.mark.parametrize("shape", ["Landscape", "Portrait"])
def test_every_exif_orientation_comes_out_upright(shape: str, tmp_path: Path) -> None:
    reference_result = render_image(CORPUS / "orientation" / f"{shape}_0.jpg", tmp_path / "ref", SMALL)
    reference = Image.open(reference_result.files["optimized"])
    mirrored = reference.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    for value in range(1, 9):
        out = tmp_path / str(value)
        result = render_image(CORPUS / "orientation" / f"{shape}_{value}.jpg", out, SMALL)
        optimized = Image.open(result.files["optimized"])
        assert optimized.size == reference.size, value
        assert (result.metadata["width"] > result.metadata["height"]) == (shape == "Landscape")
        # The same picture, upright: far closer to the reference than its mirror image is.
        difference = mean_difference(optimized, reference)
        assert difference < 4, (value, difference)
        assert mean_difference(optimized, mirrored) > 4 * difference + 10, value
        thumb = Image.open(result.files["thumbnail"])
        reference_thumb = Image.open(reference_result.files["thumbnail"])
        assert mean_difference(thumb, reference_thumb) < 6, value


@needs_corpus
@pytest.mark.parametrize("name", ["DSCN0010.jpg", "DSCN0021.jpg", "Canon_40D.jpg"])
def test_gps_and_all_metadata_are_stripped(name: str, tmp_path: Path) -> None:
    source = CORPUS / "camera" / name
    with Image.open(source) as img:
        assert img.getexif().get_ifd(0x8825), "the corpus photo should carry GPS"
    result = render_image(source, tmp_path, ImageSpec())
    for path in result.files.values():
        assert not METADATA_CHUNKS & set(webp_chunks(path.read_bytes())), path.name
        with Image.open(path) as out:
            assert not out.getexif()
            assert "xmp" not in out.info and "icc_profile" not in out.info
        assert b"Exif" not in path.read_bytes()


@needs_corpus
def test_tiny_camera_image_is_never_upscaled_but_thumbnail_is_full_size(tmp_path: Path) -> None:
    result = render_image(CORPUS / "camera" / "Nikon_D70.jpg", tmp_path)  # 100 x 66
    assert_renditions(result, (100, 66))


@needs_corpus
@pytest.mark.parametrize(
    ("name", "size"), [("iphone_13_pro_max.HEIC", (1536, 2048)), ("samplefilehub.heif", (640, 426))]
)
def test_heic_photos(name: str, size: tuple[int, int], tmp_path: Path) -> None:
    result = render_image(CORPUS / "heic" / name, tmp_path)
    assert_renditions(result, size)
    assert result.metadata["format"] == "HEIF"
    assert (result.metadata["width"], result.metadata["height"]) == (size if name.endswith("heif") else (3024, 4032))
    for path in result.files.values():
        assert not METADATA_CHUNKS & set(webp_chunks(path.read_bytes()))


# --- formats and colour, on images made here --------------------------------------------


def save(img: Image.Image, path: Path, **params: object) -> Path:
    img.save(path, **params)
    return path


def thirds(size: tuple[int, int] = (450, 150)) -> Image.Image:
    """Red, blue and green vertical thirds: a cover crop keeps only the blue middle."""
    img = Image.new("RGB", size, (0, 0, 255))
    img.paste((255, 0, 0), (0, 0, size[0] // 3, size[1]))
    img.paste((0, 255, 0), (2 * size[0] // 3, 0, size[0], size[1]))
    return img


@pytest.mark.parametrize(
    ("suffix", "params"),
    [(".png", {}), (".tiff", {}), (".bmp", {}), (".avif", {"quality": 90}), (".webp", {"quality": 95})],
)
def test_formats_render_with_a_centre_cover_crop(suffix: str, params: dict, tmp_path: Path) -> None:
    source = save(thirds((450, 150)), tmp_path / f"in{suffix}", **params)
    result = render_image(source, tmp_path, CENTRE)
    assert_renditions(result, (450, 150))
    assert result.metadata == result.metadata | {"width": 450, "height": 150, "animated": False, "frames": 1}
    for x in (10, 75, 140):  # only the blue middle third is left, edge to edge
        red, green, blue, _ = pixel(result.files["thumbnail"], (x, 75))
        assert blue > 200 and red < 40 and green < 40, x
    assert isinstance(result.metadata["blurhash"], str) and len(result.metadata["blurhash"]) >= 6


def test_large_image_is_fit_within_2048_and_panorama_keeps_a_full_thumbnail(tmp_path: Path) -> None:
    result = render_image(save(thirds((4100, 200)), tmp_path / "pano.jpg"), tmp_path, CENTRE)
    assert_renditions(result, (2048, 100))  # thinner than the thumbnail, which comes from the decode
    red, green, blue, _ = pixel(result.files["thumbnail"], (75, 75))
    assert blue > 200 and red < 40


def test_transparency_survives(tmp_path: Path) -> None:
    img = Image.new("RGBA", (200, 200), (255, 0, 0, 255))
    img.paste((0, 0, 0, 0), (0, 0, 200, 40))  # a transparent band across the top
    result = render_image(save(img, tmp_path / "alpha.png"), tmp_path)
    assert result.metadata["has_alpha"] is True
    assert pixel(result.files["optimized"], (100, 10))[3] == 0
    red, green, blue, alpha = pixel(result.files["optimized"], (100, 150))
    assert red > 245 and green < 10 and blue < 10 and alpha == 255
    assert pixel(result.files["thumbnail"], (75, 140))[3] == 255
    chunks = webp_chunks(result.files["optimized"].read_bytes())
    assert b"ALPH" in chunks or b"VP8L" in chunks


def test_fully_opaque_alpha_is_dropped(tmp_path: Path) -> None:
    result = render_image(save(Image.new("RGBA", (64, 64), (0, 128, 0, 255)), tmp_path / "o.png"), tmp_path)
    assert result.metadata["has_alpha"] is False
    assert b"ALPH" not in webp_chunks(result.files["optimized"].read_bytes())


def test_cmyk_jpeg_colours_come_out_right(tmp_path: Path) -> None:
    source = save(Image.new("CMYK", (64, 64), (0, 255, 255, 0)), tmp_path / "cmyk.jpg", quality=95)
    result = render_image(source, tmp_path)
    red, green, blue, _ = pixel(result.files["optimized"], (32, 32))
    assert red > 220 and green < 40 and blue < 40


def test_16_bit_greyscale_png_is_scaled_not_clipped(tmp_path: Path) -> None:
    img = Image.new("I;16", (64, 64), 0x4000)  # a quarter of full scale: 64 in 8 bits
    img.paste(Image.new("I;16", (64, 32), 0xC000), (0, 32))
    result = render_image(save(img, tmp_path / "grey16.png"), tmp_path)
    assert abs(pixel(result.files["optimized"], (32, 8))[0] - 64) <= 3
    assert abs(pixel(result.files["optimized"], (32, 56))[0] - 192) <= 3


def test_16_bit_rgb_png(tmp_path: Path) -> None:
    # Pillow cannot write 16-bit RGB, so the PNG is assembled by hand: 8 x 8 of (1.0, 0.5, 0.0).
    def chunk(name: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + name + data + struct.pack(">I", zlib.crc32(name + data))

    row = b"\x00" + struct.pack(">HHH", 0xFFFF, 0x8000, 0x0000) * 8
    png = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 16, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(row * 8))
        + chunk(b"IEND", b"")
    )
    source = tmp_path / "rgb16.png"
    source.write_bytes(png)
    result = render_image(source, tmp_path)
    red, green, blue, _ = pixel(result.files["optimized"], (4, 4))
    assert red > 245 and abs(green - 128) <= 4 and blue < 10


def adobe_rgb_profile() -> bytes:
    """A minimal ICC v2 matrix/TRC profile with Adobe RGB (1998) primaries, built by hand."""

    def s15(*values: float) -> bytes:
        return b"".join(struct.pack(">i", round(v * 65536)) for v in values)

    def xyz(*values: float) -> bytes:
        return b"XYZ \0\0\0\0" + s15(*values)

    text = b"Adobe RGB (1998) test\0"
    desc = b"desc\0\0\0\0" + struct.pack(">I", len(text)) + text + b"\0" * 8 + b"\0" * 3 + b"\0" * 67
    curve = b"curv\0\0\0\0" + struct.pack(">IH", 1, 0x0233) + b"\0\0"  # gamma 563/256
    tags = [
        (b"desc", desc),
        (b"wtpt", xyz(0.9642, 1.0, 0.8249)),
        (b"rXYZ", xyz(0.60974, 0.31111, 0.01947)),
        (b"gXYZ", xyz(0.20528, 0.62567, 0.06087)),
        (b"bXYZ", xyz(0.14919, 0.06322, 0.74457)),
        (b"rTRC", curve),
        (b"gTRC", curve),
        (b"bTRC", curve),
        (b"cprt", b"text\0\0\0\0public domain\0\0\0"),
    ]
    offset, table, body = 128 + 4 + 12 * len(tags), b"", b""
    for name, data in tags:
        data += b"\0" * (-len(data) % 4)
        table += name + struct.pack(">II", offset + len(body), len(data))
        body += data
    size = offset + len(body)
    header = (
        struct.pack(">I", size)
        + b"\0" * 4
        + struct.pack(">I", 0x02100000)
        + b"mntrRGB XYZ "
        + b"\0" * 12
        + b"acsp"
        + b"\0" * 24
        + struct.pack(">I", 0)
        + s15(0.9642, 1.0, 0.8249)
        + b"\0" * 48
    )
    return header + struct.pack(">I", len(tags)) + table + body


def test_non_srgb_profile_is_converted_to_srgb(tmp_path: Path) -> None:
    icc = adobe_rgb_profile()
    colour = (60, 180, 90)
    source = save(Image.new("RGB", (64, 64), colour), tmp_path / "adobe.png", icc_profile=icc)
    profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
    expected = ImageCms.profileToProfile(
        Image.new("RGB", (1, 1), colour), profile, ImageCms.createProfile("sRGB")
    ).getpixel((0, 0))
    assert max(abs(a - b) for a, b in zip(expected, colour, strict=True)) > 15  # the profiles really differ
    result = render_image(source, tmp_path)
    got = pixel(result.files["optimized"], (32, 32))[:3]
    assert max(abs(a - b) for a, b in zip(got, expected, strict=True)) <= 4, (got, expected)
    assert not METADATA_CHUNKS & set(webp_chunks(result.files["optimized"].read_bytes()))


def test_animated_gif_stays_animated_with_its_timing(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (120, 80), colour) for colour in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    source = tmp_path / "anim.gif"
    frames[0].save(source, save_all=True, append_images=frames[1:], duration=[100, 200, 300], loop=0)
    result = render_image(source, tmp_path)
    assert result.metadata | {"blurhash": "", "phash": ""} == {
        "width": 120, "height": 80, "format": "GIF", "has_alpha": False, "animated": True, "frames": 3,
        "blurhash": "", "phash": "",
    }  # fmt: skip
    with Image.open(result.files["optimized"]) as optimized:
        assert optimized.is_animated and optimized.n_frames == 3
        durations = []
        for index in range(3):
            optimized.seek(index)
            optimized.load()
            durations.append(optimized.info["duration"])
        assert durations == [100, 200, 300]
        assert optimized.info["loop"] == 0
    red, green, blue, _ = pixel(result.files["thumbnail"], (75, 75))  # the first frame
    assert red > 220 and green < 40 and blue < 40


def test_large_animated_webp_is_resized_and_stays_animated(tmp_path: Path) -> None:
    frames = [thirds((2200, 300)), thirds((2200, 300)).transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    source = tmp_path / "anim.webp"
    frames[0].save(source, save_all=True, append_images=frames[1:], duration=50, quality=90)
    result = render_image(source, tmp_path)
    assert_renditions(result, (2048, 279))
    with Image.open(result.files["optimized"]) as optimized:
        assert optimized.n_frames == 2


# --- bad input ----------------------------------------------------------------------------


def png_header_claiming(width: int, height: int) -> bytes:
    """A ~100 byte PNG whose header claims `width` x `height`; the pixel data is a few bytes."""

    def chunk(name: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + name + data + struct.pack(">I", zlib.crc32(name + data))

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(b"\0" * 1000))
        + chunk(b"IEND", b"")
    )


def rejected(source: Path, tmp_path: Path, spec: ImageSpec = DEFAULT) -> Rejected:
    with pytest.raises(Rejected) as caught:
        render_image(source, tmp_path / "out", spec)
    error = caught.value
    assert error.message and "Traceback" not in error.message and "Error" not in error.message
    assert error.detail  # the technical text is kept for moderators
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    return error


@pytest.mark.parametrize(("width", "height"), [(50_000, 50_000), (10_000, 6_000), (25_000, 100)])
def test_pixel_bomb_is_rejected_from_the_header_without_allocating(width: int, height: int, tmp_path: Path) -> None:
    source = tmp_path / "bomb.png"
    source.write_bytes(png_header_claiming(width, height))
    assert source.stat().st_size < 2000
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert rejected(source, tmp_path).code == "too_large"
    with pytest.raises(Rejected, match="too large"):
        probe_image(source)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50_000  # KiB: nothing was decoded


def test_animation_with_too_many_frames_is_rejected(tmp_path: Path) -> None:
    frames = [Image.new("L", (16, 16), shade) for shade in (0, 80, 160)]
    source = tmp_path / "anim.gif"
    frames[0].save(source, save_all=True, append_images=frames[1:])
    assert rejected(source, tmp_path, ImageSpec(max_frames=2)).code == "too_large"


@pytest.fixture
def jpeg_bytes() -> bytes:
    buffer = io.BytesIO()
    thirds((400, 300)).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (lambda jpeg: jpeg[: len(jpeg) // 2], "corrupt_file"),  # truncated mid-scan
        (lambda jpeg: jpeg[:60], "corrupt_file"),  # truncated inside the header
        (lambda jpeg: jpeg[:600] + os.urandom(len(jpeg) - 600), "corrupt_file"),  # garbled scan data
        # seeded: a few per cent of random buffers look like some format to libmagic
        (lambda jpeg: random.Random(0).randbytes(4096), "corrupt_file"),
        (lambda jpeg: b"", "corrupt_file"),
        (lambda jpeg: b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n", "unsupported_type"),
        (lambda jpeg: b"<svg xmlns='http://www.w3.org/2000/svg' width='10' height='10'/>", "unsupported_type"),
    ],
    ids=["truncated", "header-only", "garbled", "random-bytes", "zero-bytes", "pdf", "svg"],
)
def test_bad_input_is_rejected_with_its_code(make, code: str, jpeg_bytes: bytes, tmp_path: Path) -> None:
    source = tmp_path / "upload"
    source.write_bytes(make(jpeg_bytes))
    (tmp_path / "out").mkdir()
    assert rejected(source, tmp_path).code == code


@pytest.mark.parametrize("fmt", ["PNG", "GIF", "WEBP", "AVIF", "TIFF", "BMP", "HEIF"])
def test_truncated_file_of_each_format_is_corrupt(fmt: str, tmp_path: Path) -> None:
    buffer = io.BytesIO()
    thirds((96, 64)).save(buffer, fmt)
    source = tmp_path / "upload"
    source.write_bytes(buffer.getvalue()[: buffer.tell() // 2])
    assert rejected(source, tmp_path).code == "corrupt_file"


def test_probe_reads_the_header_only(tmp_path: Path) -> None:
    source = save(thirds((640, 480)), tmp_path / "in.jpg")
    info = probe_image(source)
    assert (info.format, info.width, info.height, info.frames, info.animated) == ("JPEG", 640, 480, 1, False)


def test_render_is_repeatable(tmp_path: Path) -> None:
    source = save(thirds(), tmp_path / "in.png")
    first = render_image(source, tmp_path / "a")
    second = render_image(source, tmp_path / "b")
    assert first.metadata == second.metadata
    for name in first.files:
        assert first.files[name].read_bytes() == second.files[name].read_bytes()


@pytest.mark.parametrize("animated", [False, True])
def test_declared_renditions_are_all_cut_from_one_decode(tmp_path: Path, animated: bool) -> None:
    """Any set of cover crops and fitted sizes, for stills and animations alike."""
    wanted = [
        Rendition("tiny", "tiny.webp", "cover", 64),
        Rendition("big", "big.webp", "within", 300),
        Rendition("small", "small.webp", "within", 100),
    ]
    frames = [thirds((450, 150)), thirds((450, 150)).transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    source = tmp_path / ("in.gif" if animated else "in.png")
    frames[0].save(source, save_all=animated, append_images=frames[1:] if animated else [], duration=100)
    stages: list[str] = []
    result = render_image(source, tmp_path / "out", ImageSpec(), wanted, on_stage=stages.append)
    assert stages == ["big", "small"]  # the fitted ones are the long steps; the crop comes first
    sizes = {}
    for name, path in result.files.items():
        with Image.open(path) as img:
            sizes[name] = (img.size, getattr(img, "n_frames", 1))
    frames_out = 2 if animated else 1
    assert sizes == {"tiny": ((64, 64), 1), "big": ((300, 100), frames_out), "small": ((100, 33), frames_out)}
    assert result.metadata["width"] == 450 and result.metadata["animated"] is animated


# --- responsive widths, AVIF, smart crop, perceptual hash ---------------------------------

WIDTHS = [
    Rendition(f"{fmt}_{width}", f"w{width}.{fmt}", "width", width, f"image/{fmt}")
    for width in (320, 640, 1280)
    for fmt in ("avif", "webp")
]


@pytest.mark.parametrize("animated", [False, True])
def test_widths_in_webp_and_avif_never_upscaled_and_the_original_width_written_once(
    tmp_path: Path, animated: bool
) -> None:
    frames = [thirds((900, 300)), thirds((900, 300)).transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    source = tmp_path / ("in.gif" if animated else "in.png")
    frames[0].save(source, save_all=animated, append_images=frames[1:] if animated else [], duration=100)
    result = render_image(source, tmp_path / "out", ImageSpec(), WIDTHS)
    seen = {}
    for name, path in result.files.items():
        with Image.open(path) as img:
            seen[name] = (img.format, img.size, getattr(img, "n_frames", 1), path.name)
    n = 2 if animated else 1
    assert seen == {
        "avif_320": ("AVIF", (320, 107), n, "w320.avif"),
        "webp_320": ("WEBP", (320, 107), n, "w320.webp"),
        "avif_640": ("AVIF", (640, 213), n, "w640.avif"),
        "webp_640": ("WEBP", (640, 213), n, "w640.webp"),
        # 1280 is wider than the picture: its own width, the same file as the first width at least as wide
        "avif_1280": ("AVIF", (900, 300), n, "w1280.avif"),
        "webp_1280": ("WEBP", (900, 300), n, "w1280.webp"),
    }


def test_width_twins_share_one_encode(tmp_path: Path) -> None:
    wanted = [*WIDTHS, Rendition("w2048", "w2048.webp", "width", 2048)]
    result = render_image(save(thirds((500, 200)), tmp_path / "in.png"), tmp_path / "out", ImageSpec(), wanted)
    assert result.files["webp_640"] == result.files["webp_1280"] == result.files["w2048"]
    assert result.files["avif_640"] == result.files["avif_1280"] != result.files["webp_640"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["w320.avif", "w320.webp", "w640.avif", "w640.webp"]


@needs_corpus
@pytest.mark.parametrize("value", range(1, 9))
def test_widths_of_the_orientation_set_are_upright_widths(value: int, tmp_path: Path) -> None:
    """Portrait_<n>.jpg is 1200 x 1800 upright, whatever the EXIF orientation: width 640 means 640 across."""
    wanted = [Rendition("avif_640", "w640.avif", "width", 640, "image/avif")]
    result = render_image(CORPUS / "orientation" / f"Portrait_{value}.jpg", tmp_path, SMALL, wanted)
    with Image.open(result.files["avif_640"]) as img:
        assert img.size == (640, 960) and not img.info.get("exif") and not img.info.get("icc_profile")
        assert not img.info.get("xmp")


@needs_corpus
@pytest.mark.parametrize("name", ["iphone_13_pro_max.HEIC", "samplefilehub.heif"])
def test_heic_gets_avif_widths(name: str, tmp_path: Path) -> None:
    wanted = [Rendition("avif_320", "w320.avif", "width", 320, "image/avif")]
    result = render_image(CORPUS / "heic" / name, tmp_path, SMALL, wanted)
    with Image.open(result.files["avif_320"]) as img:
        assert img.format == "AVIF" and img.width == min(320, result.metadata["width"])


def corner_subject(size: tuple[int, int], corner: str) -> Image.Image:
    """A flat, dull background with a detailed, red subject (half the short side) in one corner."""
    img = Image.new("RGB", size, (120, 125, 120))
    side = min(size) // 2
    detail = Image.effect_mandelbrot((side, side), (-2, -1.25, 0.5, 1.25), 60).point(lambda v: 180 + v // 4)
    subject = Image.merge("RGB", (detail, Image.new("L", detail.size, 30), Image.new("L", detail.size, 40)))
    img.paste(subject, (0 if "left" in corner else size[0] - side, 0 if "top" in corner else size[1] - side))
    return img


def red_share(path: Path) -> float:
    with Image.open(path) as img:
        rgb = np.asarray(img.convert("RGB"))
    return float(((rgb[..., 0] > 150) & (rgb[..., 1] < 80)).mean())


@pytest.mark.parametrize(
    ("size", "corner"), [((900, 300), "top left"), ((900, 300), "bottom right"), ((300, 900), "bottom left")]
)
def test_smart_crop_keeps_an_off_centre_subject(size: tuple[int, int], corner: str, tmp_path: Path) -> None:
    source = save(corner_subject(size, corner), tmp_path / "in.png")
    smart = render_image(source, tmp_path / "smart", DEFAULT)
    centre = render_image(source, tmp_path / "centre", CENTRE)
    # the whole subject is a quarter of a thumbnail that keeps it; a centre crop cuts it out entirely
    assert red_share(smart.files["thumbnail"]) > 0.2
    assert red_share(centre.files["thumbnail"]) == 0


@needs_corpus
def test_perceptual_hash_is_close_for_a_resized_copy_and_far_for_another_picture(tmp_path: Path) -> None:
    import imagehash

    with Image.open(CORPUS / "camera" / "DSCN0010.jpg") as photo:
        copy = save(photo.resize((photo.width // 3, photo.height // 3)), tmp_path / "copy.webp", quality=70)
    a = render_image(CORPUS / "camera" / "DSCN0010.jpg", tmp_path / "a", SMALL).metadata["phash"]
    b = render_image(copy, tmp_path / "b", SMALL).metadata["phash"]
    c = render_image(CORPUS / "camera" / "DSCN0021.jpg", tmp_path / "c", SMALL).metadata["phash"]
    distance = lambda x, y: imagehash.hex_to_hash(x) - imagehash.hex_to_hash(y)  # noqa: E731
    assert len(a) == 16 and distance(a, b) <= 4 and distance(a, c) > 16, (distance(a, b), distance(a, c))
