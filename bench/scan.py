"""What the security checks of issue 9 cost, beside the work they guard, measured in the same run.

    CLAMD_PORT=3310 .venv/bin/python bench/scan.py            # against a running clamd
    .venv/bin/python bench/scan.py --rounds 9

- images: clamd's scan of a 1 MP and a 12 MP JPEG, and the rewrite of the served
  original (processing/image_original.py), against `render_image` of the same file;
- documents: the part-by-part scan of a .docx (processing/archives.py) against one
  scan of the whole file;
- large files: clamd's scan throughput against hashing the same bytes (sha256).

clamd remembers the hashes of clean files and answers a second scan of the same bytes at
once, so every scanned input is made unique per round (a counter in a trailing byte or a part).
Medians of wall time over the rounds; a bench never fails the test run.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import statistics
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mediahub.settings")

import django  # noqa: E402

django.setup()

from PIL import Image  # noqa: E402

from media import engines  # noqa: E402
from processing import archives, image_original, images, scan  # noqa: E402


def _median_ms(work: Callable[[int], object], rounds: int) -> float:
    """`work(round)`: the round number lets each scan see bytes clamd has not cached."""
    times = []
    for number in range(rounds):
        started = time.perf_counter()
        work(number)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def _unique(data: bytes, number: int) -> io.BytesIO:
    return io.BytesIO(data + f"{time.time_ns()}-{number}".encode())


def _jpeg(path: Path, width: int, height: int) -> Path:
    noisy = Image.effect_noise((width // 4, height // 4), 40).convert("RGB").resize((width, height))
    noisy.save(path, "JPEG", quality=88)
    return path


def _docx(parts: int, size: int, number: int) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>" * 1000)
        for index in range(parts):
            text = f"<p>paragraph {index} of {number}-{time.time_ns()}</p>" * (size // 30)
            archive.writestr(f"word/media/part{index}.xml", text[:size])
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds
    rows: list[tuple[str, float, float]] = []
    server = engines.clamd()  # CLAMD_HOST/CLAMD_PORT from the environment, as the workers read them

    def clamd_scan(fileobj: io.BytesIO) -> scan.ScanResult:
        return scan.scan(fileobj, server)

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for label, (width, height) in (("1 MP JPEG", (1152, 864)), ("12 MP JPEG", (4000, 3000))):
            src = _jpeg(work / f"{width}.jpg", width, height)
            render = _median_ms(lambda _, src=src: images.render_image(src, work / "out"), rounds)
            data = src.read_bytes()
            scanned = _median_ms(lambda number, data=data: clamd_scan(_unique(data, number)), rounds)
            cleaned = _median_ms(lambda _, src=src: image_original.clean_original(src, work / "o.jpg", "jpeg"), rounds)
            rows += [(f"{label}: clamd scan", scanned, render), (f"{label}: original rewrite", cleaned, render)]

        limits = engines.archive_limits()
        docs = [_docx(40, 50_000, number) for number in range(2 * rounds)]
        whole = _median_ms(lambda number: clamd_scan(io.BytesIO(docs[number])), rounds)
        parts = _median_ms(
            lambda number: archives.scan_parts(io.BytesIO(docs[rounds + number]), limits, clamd_scan), rounds
        )
        rows.append(("docx, 40 parts of 50 kB: part-by-part scan", parts, whole))

        big = os.urandom(64 << 20)
        hashed = _median_ms(lambda _: hashlib.sha256(big).digest(), rounds)
        scanned = _median_ms(lambda number: clamd_scan(_unique(big, number)), rounds)
        rows.append(("64 MB of random bytes: clamd scan", scanned, hashed))

    print(f"{'measured':48} {'ms':>9} {'reference ms':>13} {'ratio':>7}")
    for name, value, reference in rows:
        print(f"{name:48} {value:9.1f} {reference:13.1f} {value / reference:7.2f}")
    print("references: render_image of the same JPEG; one clamd scan of the whole .docx; sha256 of the same bytes")


if __name__ == "__main__":
    main()
