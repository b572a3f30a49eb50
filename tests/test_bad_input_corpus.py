"""A corpus of hostile and broken uploads of every family: polyglots, archives, malware in every kind,
truncated files, bombs and lies about the type. Each goes the client's way (create, PUT, confirm, a
real worker for images and videos) and must end REJECTED with a clear code and a sentence for the
user, leaving nothing in storage but the quarantined copy of malware, and no job behind."""

from __future__ import annotations

import io
import random
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import django_rq
import pytest
from PIL import Image
from rest_framework.test import APIClient
from rq import SimpleWorker

from media.models import Media, Status
from tests import image_samples, samples, video_samples
from tests.api_flow import NOTHING, confirm, create, detail_url, keys_of, spool_files, upload
from tests.helpers import clear_queue
from tests.samples import EICAR, MARKER, docx_with_part, nested_zip

pytestmark = pytest.mark.django_db(transaction=True)

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
ODT = "application/vnd.oasis.opendocument.text"
MALWARE = {"malware_detected"}
BROKEN = {"corrupt_file", "type_mismatch"}  # a cut file may no longer even look like its format


@dataclass(frozen=True)
class Bad:
    name: str
    filename: str
    content_type: str
    make: Callable[[], bytes]
    codes: set[str]
    settings: dict[str, Any] = field(default_factory=dict)


def _half(make: Callable[[], bytes]) -> Callable[[], bytes]:
    return lambda: make()[: len(make()) // 2]


def _plus(make: Callable[[], bytes], tail: bytes) -> Callable[[], bytes]:
    return lambda: make() + tail


@cache
def _stored_zip(name: str, data: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr(name, data)
    return out.getvalue()


def _png_with_text(text: bytes) -> bytes:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", text.decode("latin1"))
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (1, 2, 3)).save(out, "PNG", pnginfo=info)
    return out.getvalue()


def _jpeg_with_comment(text: bytes) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (9, 9, 9)).save(out, "JPEG", comment=text)
    return out.getvalue()


def _gif_script_polyglot() -> bytes:
    """A GIF header that is also JavaScript: GIF89a=...; a browser sniffing it could run it."""
    return b"GIF89a/*\x01\x00\x01\x00\x00\xff\xff*/=1;alert(document.domain);" + bytes(64)


def _encrypted_docx() -> bytes:
    body = bytearray(docx_with_part("word/media/secret.bin", b"x" * 100, compress=zipfile.ZIP_STORED))
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        body[body.rindex(signature) + offset] |= 1  # the "encrypted" flag of the last part
    return bytes(body)


def _bmp_bomb() -> bytes:
    """A BMP header claiming 60,000 x 60,000 pixels, with hardly any data."""
    out = io.BytesIO()
    Image.new("RGB", (1, 1)).save(out, "BMP")
    data = bytearray(out.getvalue())
    data[18:26] = (60_000).to_bytes(4, "little") + (60_000).to_bytes(4, "little")
    return bytes(data)


def _noise(seed: int, size: int = 4096) -> Callable[[], bytes]:
    return lambda: random.Random(seed).randbytes(size)


CORPUS = [
    # --- images ---------------------------------------------------------------------------------
    Bad("jpeg-truncated", "a.jpg", "image/jpeg", image_samples.truncated_jpeg, {"corrupt_file"}),
    Bad("png-truncated", "a.png", "image/png", _half(image_samples.png_with_alpha), BROKEN),
    Bad("webp-truncated", "a.webp", "image/webp", _half(image_samples.webp), BROKEN),
    Bad("gif-truncated", "a.gif", "image/gif", lambda: image_samples.animated_gif()[:40], BROKEN),
    Bad("tiff-truncated", "a.tiff", "image/tiff", lambda: image_samples.tiff()[:200], BROKEN),
    Bad("avif-truncated", "a.avif", "image/avif", lambda: image_samples.avif()[:300], BROKEN),
    Bad("jpeg-header-only", "a.jpg", "image/jpeg", lambda: b"\xff\xd8\xff\xe0" + bytes(12), BROKEN),
    Bad("png-pixel-bomb", "bomb.png", "image/png", image_samples.pixel_bomb, {"too_large"}),
    Bad("bmp-pixel-bomb", "bomb.bmp", "image/bmp", _bmp_bomb, {"too_large", "corrupt_file"}),
    Bad("noise-as-webp", "a.webp", "image/webp", _noise(1), {"corrupt_file"}),
    Bad("noise-as-heic", "a.heic", "image/heic", _noise(2), {"corrupt_file"}),
    Bad("svg-as-png", "a.png", "image/png", lambda: b'<svg xmlns="http://www.w3.org/2000/svg"><script/></svg>', BROKEN),
    Bad("html-as-jpeg", "a.jpg", "image/jpeg", lambda: b"<!DOCTYPE html><html><script>x()</script>", BROKEN),
    Bad("pdf-as-png", "a.png", "image/png", image_samples.pdf, {"type_mismatch"}),
    Bad("webp-as-png", "a.png", "image/png", image_samples.webp, {"type_mismatch"}),
    Bad("gif-javascript-polyglot", "a.gif", "image/gif", _gif_script_polyglot, BROKEN),
    Bad("jpeg-plus-zip-with-eicar", "a.jpg", "image/jpeg", _plus(image_samples.jpeg, _stored_zip("x", EICAR)), MALWARE),
    Bad("png-eicar-in-text-chunk", "a.png", "image/png", lambda: _png_with_text(EICAR), MALWARE),
    Bad("jpeg-marker-in-comment", "a.jpg", "image/jpeg", lambda: _jpeg_with_comment(MARKER), MALWARE),
    Bad("gif-eicar-appended", "a.gif", "image/gif", _plus(image_samples.animated_gif, EICAR), MALWARE),
    # --- videos ---------------------------------------------------------------------------------
    Bad("mp4-truncated", "a.mp4", "video/mp4", video_samples.truncated_mp4, {"corrupt_file"}),
    Bad("mp4-cut-faststart", "a.mp4", "video/mp4", video_samples.cut_faststart_mp4, {"corrupt_file"}),
    Bad("webm-truncated", "a.webm", "video/webm", lambda: video_samples.vp9_webm()[:600], BROKEN),
    Bad("mp4-audio-only", "a.mp4", "video/mp4", video_samples.audio_only_mp4, {"corrupt_file"}),
    Bad("noise-as-mp4", "a.mp4", "video/mp4", video_samples.random_bytes, {"corrupt_file"}),
    Bad("jpeg-as-mp4", "a.mp4", "video/mp4", image_samples.jpeg, {"type_mismatch"}),
    Bad("mp4-eicar-appended", "a.mp4", "video/mp4", _plus(video_samples.p360, EICAR), MALWARE),
    Bad("mov-marker-appended", "a.mov", "video/quicktime", _plus(video_samples.mov, MARKER), MALWARE),
    Bad("mp4-over-duration", "a.mp4", "video/mp4", video_samples.six_seconds, {"too_large"}, {"VIDEO_MAX_DURATION": 5}),
    # --- audio ----------------------------------------------------------------------------------
    Bad("mp3-truncated", "a.mp3", "audio/mpeg", samples.truncated_mp3, {"corrupt_file"}),
    Bad("wav-header-only", "a.wav", "audio/wav", lambda: samples.tone("wav")[:44], BROKEN),
    Bad("flac-truncated", "a.flac", "audio/flac", lambda: samples.tone("flac")[:60], BROKEN),
    Bad("noise-as-ogg", "a.ogg", "audio/ogg", _noise(3), BROKEN),
    Bad("zip-as-mp3", "a.mp3", "audio/mpeg", samples.zip_archive, {"type_mismatch"}),
    Bad("wav-eicar-appended", "a.wav", "audio/wav", lambda: samples.tone("wav") + EICAR, MALWARE),
    Bad("m4a-marker-appended", "a.m4a", "audio/mp4", lambda: samples.tone("m4a") + MARKER, MALWARE),
    # --- documents ------------------------------------------------------------------------------
    Bad("docx-zip64-part-with-marker", "a.docx", DOCX,
        lambda: docx_with_part("word/media/x.bin", b"filler\n" * 500 + MARKER, zip64=True), MALWARE),
    Bad("docx-marker-20-zips-deep", "a.docx", DOCX,
        lambda: docx_with_part("word/embeddings/o.zip", nested_zip(20, b"filler\n" * 50 + MARKER)), MALWARE),
    Bad("docx-zip-bomb", "a.docx", DOCX, lambda: docx_with_part("word/media/z.bin", bytes(3 << 20), zip64=True),
        {"too_large"}, {"ARCHIVE_MAX_UNPACKED": 1 << 20}),
    Bad("docx-too-many-parts", "a.docx", DOCX, samples.docx, {"too_large"}, {"ARCHIVE_MAX_MEMBERS": 2}),
    Bad("docx-encrypted-part", "a.docx", DOCX, _encrypted_docx, {"corrupt_file"}),
    Bad("docx-truncated", "a.docx", DOCX, _half(samples.docx), BROKEN),
    Bad("docx-eicar-part", "a.docx", DOCX, lambda: samples.docx(payload=EICAR), MALWARE),
    Bad("xlsx-as-docx", "a.docx", DOCX, samples.xlsx, {"type_mismatch"}),
    Bad("pptx-truncated", "a.pptx", PPTX, lambda: samples.pptx()[:300], BROKEN),
    Bad("odt-eicar-part", "a.odt", ODT, lambda: _odt_with(EICAR), MALWARE),
    Bad("zip-as-docx", "a.docx", DOCX, samples.zip_archive, {"type_mismatch"}),
    Bad("pdf-with-eicar", "a.pdf", "application/pdf", samples.eicar_in_pdf, MALWARE),
    Bad("exe-as-pdf", "a.pdf", "application/pdf", samples.windows_executable, {"type_mismatch"}),
    Bad("elf-as-pdf", "a.pdf", "application/pdf", samples.elf_executable, {"type_mismatch"}),
    Bad("html-as-text", "a.txt", "text/plain", lambda: b"<!DOCTYPE html><html><script>x()</script></html>",
        {"type_mismatch"}),
    Bad("text-with-marker", "a.txt", "text/plain", samples.marker_in_text, MALWARE),
    Bad("pdf-as-xlsx", "a.xlsx", XLSX, samples.pdf, {"type_mismatch"}),
]  # fmt: skip


def _odt_with(payload: bytes) -> bytes:
    out = io.BytesIO(samples.odt())
    with zipfile.ZipFile(out, "a", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("Pictures/x.bin", payload)
    return out.getvalue()


def test_the_corpus_is_large_and_covers_every_family() -> None:
    assert len(CORPUS) >= 40 and len({bad.name for bad in CORPUS}) == len(CORPUS)
    assert {bad.content_type.split("/")[0] for bad in CORPUS} >= {"image", "video", "audio", "application", "text"}


@pytest.fixture
def queues(settings, tmp_path: Path) -> Iterator[list]:
    settings.SPOOL_DIR = tmp_path / "spool"
    settings.JOB_RETRY_INTERVALS = [0]  # a retry would show in the same burst
    found = [django_rq.get_queue(name) for name in ("images", "videos")]
    for queue in found:
        clear_queue(queue)
    yield found
    for queue in found:
        clear_queue(queue)


@pytest.mark.parametrize("bad", CORPUS, ids=[bad.name for bad in CORPUS])
def test_bad_input_ends_rejected_with_a_clear_code_and_leaves_nothing(
    bad: Bad, api: APIClient, queues: list, settings, tmp_path: Path
) -> None:
    for name, value in bad.settings.items():
        setattr(settings, name, value)
    body = bad.make()
    created = create(api, filename=bad.filename, content_type=bad.content_type, size=len(body))
    assert created.status_code == 201, created.json()
    media_id = created.json()["id"]
    upload(created.json(), body)
    answer = confirm(api, media_id)
    if answer.status_code == 202:  # images and videos: a real worker takes the job
        SimpleWorker(queues, connection=queues[0].connection).work(burst=True, with_scheduler=False)
    media = api.get(detail_url(media_id)).json()
    assert media["status"] == Status.REJECTED, media
    assert media["error"]["code"] in bad.codes, media["error"]
    assert media["error"]["message"].endswith(".") and "Traceback" not in media["error"]["message"]
    assert media["urls"]["original"] is None
    row = Media.objects.get(pk=media_id)
    assert row.attempts <= 1 and row.error_detail  # never retried; the reason kept for moderators
    expected = {**NOTHING, "quarantine": [f"quarantine/{media_id}"]} if bad.codes == MALWARE else NOTHING
    assert keys_of(media_id) == expected
    assert all(queue.count == 0 and queue.failed_job_registry.count == 0 for queue in queues)
    assert spool_files() == []  # no temporary file left
