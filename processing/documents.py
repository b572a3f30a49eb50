"""Documents: cheap facts for their metadata (the checks are sniffing and scanning), and a PDF's first-page preview."""

from __future__ import annotations

import logging
import resource
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from PIL import Image
from pypdf import PdfReader
from pypdf.errors import PyPdfError

from processing.codes import ErrorCode
from processing.errors import Rejected
from processing.sniff import Family

log = logging.getLogger(__name__)


def describe(fileobj: IO[bytes], family: Family) -> dict[str, Any]:
    meta: dict[str, Any] = {"format": family.name}
    if family.name == "pdf":
        try:
            meta["pages"] = len(PdfReader(fileobj).pages)
        except (PyPdfError, ValueError, KeyError, TypeError, RecursionError) as exc:
            # A PDF viewer may still open what pypdf cannot count; the count is a nicety, not a check.
            log.info("could not count the pages of a PDF: %s", exc)
        finally:
            fileobj.seek(0)
    return meta


@dataclass(frozen=True)
class PreviewSpec:
    size: int = 1024  # longest side of the first page's preview, pixels
    quality: int = 80
    timeout: float = 30.0  # seconds; a page that takes longer is treated as damaged
    max_memory: int = 512 * 1024 * 1024  # bytes of address space the renderer may use
    pdftoppm: str = "pdftoppm"


def render_preview(src: Path, out_path: Path, spec: PreviewSpec | None = None) -> None:
    """A WebP of the PDF's first page, longest side `spec.size`. poppler's pdftoppm renders it in a
    subprocess with a timeout and an address-space limit, like ffmpeg: a hostile PDF can neither hang
    the worker nor exhaust its memory. An encrypted or damaged PDF is `Rejected`."""
    spec = spec or PreviewSpec()
    with tempfile.TemporaryDirectory(prefix="pdf-") as work:
        prefix = Path(work) / "page"
        cmd = [spec.pdftoppm, "-f", "1", "-l", "1", "-singlefile", "-png", "-scale-to", str(spec.size)]
        cmd += ["--", str(src.resolve()), str(prefix)]

        def limits() -> None:  # in the child, before exec
            resource.setrlimit(resource.RLIMIT_AS, (spec.max_memory, spec.max_memory))

        try:
            done = subprocess.run(
                cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=spec.timeout, preexec_fn=limits, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise Rejected(ErrorCode.CORRUPT_FILE, "The PDF took too long to open.", str(exc)) from exc
        errors = done.stderr.decode("utf-8", "replace")[-2000:]
        page = prefix.with_suffix(".png")
        if done.returncode != 0 or not page.is_file():
            if "password" in errors.lower():
                raise Rejected(
                    ErrorCode.CORRUPT_FILE, "The PDF is protected by a password; upload it unlocked.", errors
                )
            raise Rejected(ErrorCode.CORRUPT_FILE, "The PDF is damaged and cannot be opened.", errors)
        with Image.open(page) as image:
            image.convert("RGB").save(out_path, "WEBP", quality=spec.quality)
