"""Malware that slipped past the scan: ZIP64 and deeply nested parts of documents, unpacking bombs,
and pictures and films, which were never scanned. Each goes through the API and a real worker and
ends REJECTED with nothing in permanent/."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import django_rq
import pytest
from PIL import Image
from rq import Queue

from media import storage
from media.models import Media, Status
from processing import image_original
from tests import samples, video_samples
from tests.api_flow import NOTHING, confirm, keys_of, uploaded
from tests.helpers import clear_queue
from tests.samples import Sample, docx_with_part, nested_zip
from tests.test_image_worker import images_queue, run_worker, submit  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db(transaction=True)

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _docx_rejected(api, body: bytes, code: str) -> Media:
    created = uploaded(api, Sample("docx", "letter.docx", DOCX, body, ""))
    answer = confirm(api, created["id"])
    assert answer.status_code == 422, answer.json()
    assert answer.json()["error"]["code"] == code
    media = Media.objects.get(pk=created["id"])
    assert media.status == Status.REJECTED
    assert keys_of(media.id)["permanent"] == [] and keys_of(media.id)["temp"] == []
    return media


def test_a_zip64_part_carrying_malware_is_found(api) -> None:
    body = docx_with_part("word/media/image1.bin", b"filler\n" * 2000 + samples.MARKER, zip64=True)
    media = _docx_rejected(api, body, "malware_detected")
    assert media.error_detail == "Mediahub.Test.Marker.UNOFFICIAL"
    assert keys_of(media.id)["quarantine"] == [f"quarantine/{media.id}"]


def test_malware_nested_twenty_zips_deep_is_refused(api) -> None:
    body = docx_with_part("word/embeddings/object.zip", nested_zip(20, b"filler\n" * 200 + samples.MARKER))
    media = _docx_rejected(api, body, "malware_detected")
    # found by clamd (the marker, or its recursion limit with the project's config) or refused by the unpacking
    assert media.error_detail.startswith(("Mediahub.Test.Marker", "Heuristics.Limits.Exceeded", "zip nested deeper"))


def test_the_unpacking_refuses_nesting_past_its_own_limit(api, settings) -> None:
    settings.ARCHIVE_MAX_DEPTH = 2
    media = _docx_rejected(api, docx_with_part("word/x.zip", nested_zip(4, b"harmless")), "malware_detected")
    assert media.error_detail == "zip nested deeper than 2 in 'inner.zip'"


def test_a_clean_document_nested_within_the_limit_is_accepted(api) -> None:
    created = uploaded(api, Sample("docx", "letter.docx", DOCX, docx_with_part("word/x.zip", nested_zip(3, b"hi")), ""))
    assert confirm(api, created["id"]).json()["status"] == Status.READY


def test_a_part_that_inflates_past_the_limit_is_too_large(api, settings) -> None:
    """A zip bomb in miniature: 3 MB of zeros packed into a few kB, with the limit at 1 MB."""
    settings.ARCHIVE_MAX_UNPACKED = 1024 * 1024
    body = docx_with_part("word/media/zeros.bin", bytes(3 * 1024 * 1024), zip64=True)
    assert len(body) < 20_000
    media = _docx_rejected(api, body, "too_large")
    assert keys_of(media.id) == NOTHING


def test_an_encrypted_part_is_a_corrupt_document(api) -> None:
    """A zip member flagged as encrypted cannot be unpacked for the scan (and no Office file has one)."""
    body = bytearray(docx_with_part("word/media/secret.bin", b"x" * 100, compress=zipfile.ZIP_STORED))
    for signature in (b"PK\x03\x04", b"PK\x01\x02"):  # set bit 0 (encrypted) of the last part's flags
        at = body.rindex(signature)
        flags = at + (6 if signature == b"PK\x03\x04" else 8)
        body[flags] |= 1
    _docx_rejected(api, bytes(body), "corrupt_file")


# --- pictures and films are scanned too ---------------------------------------------------------


def _jpeg(exif_orientation: int = 1) -> bytes:
    out = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = exif_orientation
    exif[0x010F] = "SecretCam"  # Make: metadata that must not reach the served original
    Image.new("RGB", (64, 32), (200, 40, 40)).save(out, "JPEG", exif=exif.tobytes(), comment=b"a comment")
    return out.getvalue()


@pytest.fixture
def videos_queue(settings, tmp_path: Path):
    settings.SPOOL_DIR = tmp_path / "spool"
    queue = django_rq.get_queue("videos")
    clear_queue(queue)
    yield queue
    clear_queue(queue)


def test_a_jpeg_carrying_malware_is_rejected(api, images_queue: Queue) -> None:  # noqa: F811
    media_id = submit(api, filename="cat.jpg", content_type="image/jpeg", body=_jpeg() + samples.MARKER)
    run_worker(images_queue)
    media = api.get(f"/api/media/{media_id}/").json()
    assert (media["status"], media["error"]["code"]) == (Status.REJECTED, "malware_detected")
    assert keys_of(media_id) == {**NOTHING, "quarantine": [f"quarantine/{media_id}"]}


def test_an_mp4_carrying_malware_is_rejected(api, videos_queue: Queue) -> None:
    media_id = submit(api, filename="clip.mp4", content_type="video/mp4", body=video_samples.p360() + samples.EICAR)
    run_worker(videos_queue)
    media = api.get(f"/api/media/{media_id}/").json()
    assert (media["status"], media["error"]["code"]) == (Status.REJECTED, "malware_detected")
    assert keys_of(media_id) == {**NOTHING, "quarantine": [f"quarantine/{media_id}"]}


def test_scanning_can_be_left_to_other_kinds(api, images_queue: Queue, settings) -> None:  # noqa: F811
    """SCAN_KINDS is the operator's choice; without images in it, a marked picture is not looked for."""
    settings.SCAN_KINDS = ["document"]
    media_id = submit(api, filename="cat.jpg", content_type="image/jpeg", body=_jpeg() + samples.MARKER)
    run_worker(images_queue)
    assert api.get(f"/api/media/{media_id}/").json()["status"] == Status.READY
    # the tail is not served either way
    assert samples.MARKER not in storage.read(Media.objects.get(pk=media_id).original_key)


def test_the_served_original_is_the_picture_without_its_tail_or_metadata(api, images_queue: Queue) -> None:  # noqa: F811
    source = _jpeg(exif_orientation=6)
    media_id = submit(api, filename="cat.jpg", content_type="image/jpeg", body=source + b"<script>alert(1)</script>")
    run_worker(images_queue)
    media = Media.objects.get(pk=media_id)
    assert media.status == Status.READY
    served = storage.read(media.original_key)
    assert served.endswith(b"\xff\xd9") and b"<script>" not in served
    assert b"SecretCam" not in served and b"a comment" not in served
    with Image.open(io.BytesIO(served)) as img:
        assert dict(img.getexif()) == {0x0112: 6}  # the orientation alone is kept: the photo shows upright
        with Image.open(io.BytesIO(source)) as original:
            assert img.tobytes() == original.tobytes()  # not a pixel changed


def test_png_and_webp_lose_their_tails_and_text(tmp_path: Path) -> None:
    png, webp = io.BytesIO(), io.BytesIO()
    picture = Image.new("RGBA", (8, 8), (1, 2, 3, 128))
    from PIL import PngImagePlugin

    text = PngImagePlugin.PngInfo()
    text.add_text("Comment", "<script>alert(1)</script>")
    picture.save(png, "PNG", pnginfo=text)
    picture.save(webp, "WEBP", lossless=True)
    for family, data in (("png", png.getvalue()), ("webp", webp.getvalue())):
        src = tmp_path / f"in.{family}"
        src.write_bytes(data + b"PK\x03\x04 a polyglot's zip")
        cleaned = image_original.clean_original(src, tmp_path / f"out.{family}", family).read_bytes()
        assert b"PK" not in cleaned and b"<script>" not in cleaned
        with Image.open(io.BytesIO(cleaned)) as img, Image.open(io.BytesIO(data)) as before:
            assert img.tobytes() == before.tobytes()
    assert image_original.clean_original(src, tmp_path / "gif", "gif") is None  # served as checked
