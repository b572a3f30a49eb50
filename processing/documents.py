"""Cheap facts about documents for their metadata (the checks are sniffing and scanning)."""

from __future__ import annotations

import logging
from typing import IO, Any

from pypdf import PdfReader
from pypdf.errors import PyPdfError

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
