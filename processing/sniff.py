"""What a file really is, from its bytes (libmagic), and whether that matches what the client declared.

Declared and detected types are both mapped to a format family (processing.formats);
they match when the families are equal. Families also give the extension and
Content-Type of the stored original, so no user text ever reaches a storage key.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from typing import IO

import magic

from processing import formats

HEAD_BYTES = 64 * 1024  # enough for libmagic to see inside zip-based office files


Family = formats.Format
FAMILIES: dict[str, Family] = formats.BY_NAME
# Content types, declared or detected, and the families they may belong to.
TYPE_FAMILIES: dict[str, frozenset[str]] = formats.families_of_type()

# A zip is an office file when its main part is there (libmagic only looks at the first entries).
OOXML_MAIN_PART = {"docx": "word/document.xml", "xlsx": "xl/workbook.xml", "pptx": "ppt/presentation.xml"}
# Families stored as zips: their parts are unpacked and scanned one by one (processing/archives.py).
ZIP_BASED = frozenset({*OOXML_MAIN_PART, "odt"})

# What libmagic answers for bytes in which it finds no format at all: garbled or damaged, not "another type".
UNRECOGNISED = "application/octet-stream"

# Names for common content that is never accepted, so a mismatch message can say what the file is.
OTHER_LABELS = {
    "application/zip": "a ZIP archive",
    "application/x-dosexec": "a Windows program",
    "application/x-executable": "a program",
    "application/x-pie-executable": "a program",
    "application/x-sharedlib": "a program",
    "text/html": "a web page",
    "image/svg+xml": "an SVG image",
}

# Text is anything libmagic calls text/*, except markup a browser would run.
UNSAFE_TEXT = {"text/html", "text/xml", "image/svg+xml", "text/x-php", "text/javascript"}


@dataclass(frozen=True)
class Detection:
    mime: str  # what libmagic says
    family: Family | None  # the declared family the bytes turned out to be, if any


def detect(fileobj: IO[bytes], declared: str) -> Detection:
    """Sniff the file and return the family it is, if it is one the declared type allows."""
    fileobj.seek(0)
    head = fileobj.read(HEAD_BYTES)
    fileobj.seek(0)
    mime = magic.from_buffer(head, mime=True) if head else "application/x-empty"
    wanted = TYPE_FAMILIES.get(declared.split(";")[0].strip().lower(), frozenset())
    found = set(TYPE_FAMILIES.get(mime, frozenset()))
    if mime.startswith("text/") and mime not in UNSAFE_TEXT:
        found.add("text")
    if mime == "application/zip" and wanted & OOXML_MAIN_PART.keys():
        found |= _ooxml_families(fileobj)
    return Detection(mime=mime, family=_pick(wanted & found, mime, declared))


def _pick(names: set[str] | frozenset[str], *types: str) -> Family | None:
    """Of the families both sides allow, the one stored under the detected type (a MOV stays a MOV),
    else under the declared one, else the first by name."""
    for content_type in types:
        bare = content_type.split(";")[0].strip().lower()
        for name in sorted(names):
            if FAMILIES[name].content_type.split(";")[0] == bare:
                return FAMILIES[name]
    return FAMILIES[min(names)] if names else None


def describe(content_type: str) -> str:
    """What users call a declared or detected type, for messages: "a PDF document", or "of type x/y"."""
    mime = content_type.split(";")[0].strip().lower()
    families = [FAMILIES[name] for name in sorted(TYPE_FAMILIES.get(mime, ()))]
    # video/mp4 may hold several families; the one stored under that very type names it
    exact = [family for family in families if family.content_type.split(";")[0] == mime]
    if exact or len(families) == 1:
        return (exact or families)[0].label
    return OTHER_LABELS.get(mime, f"of type {mime}")


def _ooxml_families(fileobj: IO[bytes]) -> set[str]:
    try:
        with zipfile.ZipFile(fileobj) as archive:
            names = set(archive.namelist())
    except zipfile.BadZipFile:
        return set()
    finally:
        fileobj.seek(0)
    if "[Content_Types].xml" not in names:
        return set()
    return {family for family, part in OOXML_MAIN_PART.items() if part in names}
