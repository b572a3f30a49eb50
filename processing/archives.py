"""Every part of a zip-based document (OOXML, ODF), unpacked here and scanned on its own.

clamd unpacks archives itself, but what it cannot open (a ZIP64 record it
misreads, a zip nested past its recursion limit, a part past its size limits)
it may report clean. Python's zipfile reads ZIP64 and every compression a
document may use, so each part is inflated here, bounded in count, depth and
unpacked bytes, and streamed to the scanner. Past a limit the file cannot be
fully checked, so it is refused: never accepted unscanned.
"""

from __future__ import annotations

import tempfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

from processing.codes import ErrorCode
from processing.errors import Rejected
from processing.scan import ScanResult

CLEAN = ScanResult(clean=True)
_IN_MEMORY = 8 * 1024 * 1024  # parts larger than this spill to a temporary file while scanned


@dataclass(frozen=True)
class Limits:
    max_depth: int  # zips inside zips, the document itself not counted
    max_members: int  # parts in all, nested ones included
    max_unpacked: int  # bytes of all parts together, inflated


@dataclass
class _Budget:
    limits: Limits
    members: int = 0
    unpacked: int = 0


def scan_parts(fileobj: IO[bytes], limits: Limits, scan: Callable[[IO[bytes]], ScanResult]) -> ScanResult:
    """Scan each part of the zip in `fileobj` (and of zips inside it) with `scan`; the first finding wins.

    Raises Rejected when the archive cannot be fully checked: too deep, too many parts, too much
    unpacked data, or parts that cannot be read.
    """
    fileobj.seek(0)
    try:
        return _walk(fileobj, 0, _Budget(limits), scan)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
        # RuntimeError: an encrypted part (a document never has one); NotImplementedError: unknown compression
        raise Rejected(ErrorCode.CORRUPT_FILE, "The document is damaged and cannot be read.", f"zip: {exc}") from exc
    finally:
        fileobj.seek(0)


def _walk(fileobj: IO[bytes], depth: int, budget: _Budget, scan: Callable[[IO[bytes]], ScanResult]) -> ScanResult:
    with zipfile.ZipFile(fileobj) as archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            budget.members += 1
            if budget.members > budget.limits.max_members:
                raise Rejected(
                    ErrorCode.TOO_LARGE,
                    "The document has too many parts to be checked for viruses.",
                    f"more than {budget.limits.max_members} zip members",
                )
            with archive.open(info) as member, tempfile.SpooledTemporaryFile(_IN_MEMORY) as part:
                _inflate(member, part, budget)
                verdict = scan(part)
                if not verdict.clean:
                    return verdict
                if zipfile.is_zipfile(part):
                    if depth + 1 > budget.limits.max_depth:
                        raise Rejected(
                            ErrorCode.MALWARE_DETECTED,
                            "The file hides archives too deep inside each other to be checked for viruses.",
                            f"zip nested deeper than {budget.limits.max_depth} in {info.filename!r}",
                        )
                    verdict = _walk(part, depth + 1, budget, scan)
                    if not verdict.clean:
                        return verdict
    return CLEAN


def _inflate(member: IO[bytes], part: IO[bytes], budget: _Budget) -> None:
    """Copy a part out, counting against the unpacked budget (the sizes a zip declares may lie)."""
    while chunk := member.read(1024 * 1024):
        budget.unpacked += len(chunk)
        if budget.unpacked > budget.limits.max_unpacked:
            raise Rejected(
                ErrorCode.TOO_LARGE,
                "The document unpacks to too much data to be checked for viruses.",
                f"more than {budget.limits.max_unpacked} bytes unpacked",
            )
        part.write(chunk)
    part.seek(0)
