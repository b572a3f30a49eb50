"""PDF previews: the first page of a generated multi-page PDF as WebP; encrypted or damaged PDFs are rejected."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfReader, PdfWriter

from processing.codes import ErrorCode
from processing.documents import PreviewSpec, render_preview
from processing.errors import Rejected


def three_pages() -> bytes:
    """A red first page (A4-ish, portrait), then blue and green ones."""
    pages = [Image.new("RGB", (595, 842), colour) for colour in ("red", "blue", "green")]
    out = io.BytesIO()
    pages[0].save(out, "PDF", save_all=True, append_images=pages[1:])
    return out.getvalue()


def test_the_preview_is_the_first_page_as_webp(tmp_path: Path) -> None:
    (src := tmp_path / "doc.pdf").write_bytes(three_pages())
    render_preview(src, out := tmp_path / "preview.webp", PreviewSpec(size=400))
    with Image.open(out) as preview:
        assert preview.format == "WEBP"
        assert preview.height == 400 and preview.width == pytest.approx(400 * 595 / 842, abs=2)
        red, green, blue = preview.convert("RGB").getpixel((preview.width // 2, preview.height // 2))
    assert red > 200 and green < 50 and blue < 50  # page 1, not page 2


def test_an_encrypted_pdf_is_rejected_with_a_clear_message(tmp_path: Path) -> None:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(three_pages())))
    writer.encrypt(user_password="secret", owner_password="owner")
    out = io.BytesIO()
    writer.write(out)
    (src := tmp_path / "locked.pdf").write_bytes(out.getvalue())
    with pytest.raises(Rejected) as caught:
        render_preview(src, tmp_path / "preview.webp")
    assert caught.value.code == ErrorCode.CORRUPT_FILE and "password" in caught.value.message
    assert not (tmp_path / "preview.webp").exists()


def test_a_damaged_pdf_is_rejected(tmp_path: Path) -> None:
    (src := tmp_path / "damaged.pdf").write_bytes(b"%PDF-1.7\n" + b"\x00garbage" * 100)
    with pytest.raises(Rejected) as caught:
        render_preview(src, tmp_path / "preview.webp")
    assert caught.value.code == ErrorCode.CORRUPT_FILE and "damaged" in caught.value.message


def test_a_renderer_over_its_memory_bound_is_stopped(tmp_path: Path) -> None:
    (src := tmp_path / "doc.pdf").write_bytes(three_pages())
    with pytest.raises(Rejected):
        render_preview(src, tmp_path / "preview.webp", PreviewSpec(max_memory=8 * 1024 * 1024))
