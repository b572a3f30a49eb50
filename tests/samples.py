"""Small real files for the API tests, generated on the spot (nothing binary is checked in).

Audio comes from ffmpeg's `sine` source in every allowlisted format. Documents
are written by pypdf (a runtime dependency) or packed by hand with zipfile
following the minimal part lists of ECMA-376 (DOCX/XLSX/PPTX) and ODF 1.2
(ODT), so the suite needs no office library. Every generator is cached for the
session: each file is made once, in well under a second.
"""

from __future__ import annotations

import io
import struct
import subprocess
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, partial
from pathlib import Path

from django.conf import settings

EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
MARKER = b"MEDIAHUB-TEST-MALWARE-7f3a9c1e-DO-NOT-SHIP"  # the project's own clamd test signature


@dataclass(frozen=True)
class Sample:
    name: str  # a test id
    filename: str
    content_type: str
    source: bytes | Callable[[], bytes]  # a generator runs when a test first reads `body`, not at collection
    extension: str  # of the stored original, permanent/<id>/original.<extension>

    @property
    def body(self) -> bytes:
        return self.source() if callable(self.source) else self.source


# --- audio ------------------------------------------------------------------------

# name: (filename, declared type, ffmpeg output options, stored extension)
AUDIO_FORMATS: dict[str, tuple[str, str, list[str], str]] = {
    "mp3": ("tone.mp3", "audio/mpeg", ["-c:a", "libmp3lame", "-b:a", "64k", "-f", "mp3"], "mp3"),
    "aac-adts": ("tone.aac", "audio/aac", ["-c:a", "aac", "-b:a", "64k", "-f", "adts"], "aac"),
    "m4a": ("tone.m4a", "audio/mp4", ["-c:a", "aac", "-b:a", "64k", "-f", "ipod"], "m4a"),
    "m4a-as-x-m4a": ("tone.m4a", "audio/x-m4a", ["-c:a", "aac", "-b:a", "64k", "-f", "ipod"], "m4a"),
    "wav": ("tone.wav", "audio/wav", ["-c:a", "pcm_s16le", "-ar", "8000", "-f", "wav"], "wav"),
    "wav-as-x-wav": ("tone.wav", "audio/x-wav", ["-c:a", "pcm_s16le", "-ar", "8000", "-f", "wav"], "wav"),
    "flac": ("tone.flac", "audio/flac", ["-c:a", "flac", "-ar", "8000", "-f", "flac"], "flac"),
    "ogg-opus": ("tone.opus", "audio/ogg", ["-c:a", "libopus", "-b:a", "32k", "-f", "ogg"], "ogg"),
    "opus-as-audio-opus": ("tone.opus", "audio/opus", ["-c:a", "libopus", "-b:a", "32k", "-f", "ogg"], "ogg"),
    "ogg-vorbis": ("tone.ogg", "audio/ogg", ["-c:a", "libvorbis", "-q:a", "0", "-f", "ogg"], "ogg"),
}


@cache
def tone(fmt: str, seconds: float = 1.0) -> bytes:
    """A sine tone encoded by ffmpeg: a real, whole file of that format."""
    options = AUDIO_FORMATS[fmt][2]
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "out"
        subprocess.run(
            [
                settings.FFMPEG_BIN,
                "-nostdin",
                "-v",
                "error",
                "-f",
                "lavfi",
                "-i",
                f"sine=frequency=440:sample_rate=48000:duration={seconds}",
                "-ac",
                "1",
                *options,
                "-y",
                str(out),
            ],
            check=True,
            timeout=60,
        )
        return out.read_bytes()


def _ffmpeg(*args: str) -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "out"
        subprocess.run([settings.FFMPEG_BIN, "-nostdin", "-v", "error", *args, "-y", str(out)], check=True, timeout=60)
        return out.read_bytes()


@cache
def mp3_with_cover_art() -> bytes:
    """An MP3 whose ID3 tag holds a cover picture: ffprobe shows it as a video stream, attached_pic."""
    with tempfile.TemporaryDirectory() as folder:
        cover = Path(folder) / "cover.png"
        cover.write_bytes(png(32, 32))
        return _ffmpeg(
            "-f", "lavfi", "-i", "sine=duration=1", "-i", str(cover), "-map", "0:a", "-map", "1:v",
            "-c:a", "libmp3lame", "-b:a", "64k", "-c:v", "png", "-disposition:v", "attached_pic",
            "-id3v2_version", "3", "-f", "mp3",
        )  # fmt: skip


@cache
def film_as_m4a() -> bytes:
    """A one-second MP4 film with sound: libmagic calls it an ISO media file, like an M4A."""
    return _ffmpeg(
        "-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=1", "-f", "lavfi", "-i", "sine=duration=1",
        "-c:v", "mpeg4", "-c:a", "aac", "-shortest", "-f", "mp4",
    )  # fmt: skip


def audio_samples() -> list[Sample]:
    return [
        Sample(name, filename, content_type, partial(tone, name), ext)
        for name, (filename, content_type, _, ext) in AUDIO_FORMATS.items()
    ]


@cache
def truncated_mp3() -> bytes:
    """The first 40% of a 3 s MP3: its Xing header still claims 3 s, so only decoding finds the cut."""
    whole = tone("mp3", 3.0)
    return whole[: len(whole) * 2 // 5]


# --- documents --------------------------------------------------------------------


@cache
def pdf(pages: int = 2) -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)  # A4 in points
    writer.add_metadata({"/Title": "mediahub test"})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _zip(parts: list[tuple[str, str | bytes]], *, stored_first: bool = False) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for index, (name, data) in enumerate(parts):
            method = zipfile.ZIP_STORED if stored_first and index == 0 else zipfile.ZIP_DEFLATED
            archive.writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0)), data, compress_type=method)
    return out.getvalue()


_XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_PKG_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
_DOC_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_OFFICE_DOC = f"{_DOC_RELS}/officeDocument"
_CT = "http://schemas.openxmlformats.org/package/2006/content-types"


def _content_types(overrides: dict[str, str]) -> str:
    items = "".join(f'<Override PartName="{part}" ContentType="{ct}"/>' for part, ct in overrides.items())
    return (
        f'{_XML}<Types xmlns="{_CT}">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        f'<Default Extension="xml" ContentType="application/xml"/>{items}</Types>'
    )


def _rels(*targets: tuple[str, str, str]) -> str:
    items = "".join(f'<Relationship Id="{rid}" Type="{kind}" Target="{target}"/>' for rid, kind, target in targets)
    return f'{_XML}<Relationships xmlns="{_PKG_RELS}">{items}</Relationships>'


@cache
def docx(payload: bytes = b"") -> bytes:
    """A one-paragraph document; `payload`, if given, rides along as an embedded media part."""
    ns = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    return _zip(
        [
            (
                "[Content_Types].xml",
                _content_types({"/word/document.xml": f"{_ooxml('wordprocessingml.document')}.main+xml"}),
            ),
            ("_rels/.rels", _rels(("rId1", _OFFICE_DOC, "word/document.xml"))),
            (
                "word/document.xml",
                f'{_XML}<w:document xmlns:w="{ns}"><w:body><w:p><w:r>'
                "<w:t>Hello from mediahub, grüße</w:t></w:r></w:p></w:body></w:document>",
            ),
            *([("word/media/image1.bin", payload)] if payload else []),
        ]
    )


@cache
def xlsx() -> bytes:
    ns = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    return _zip(
        [
            (
                "[Content_Types].xml",
                _content_types(
                    {
                        "/xl/workbook.xml": f"{_ooxml('spreadsheetml.sheet')}.main+xml",
                        "/xl/worksheets/sheet1.xml": f"{_ooxml('spreadsheetml.worksheet')}+xml",
                    }
                ),
            ),
            ("_rels/.rels", _rels(("rId1", _OFFICE_DOC, "xl/workbook.xml"))),
            (
                "xl/workbook.xml",
                f'{_XML}<workbook xmlns="{ns}" xmlns:r="{_DOC_RELS}"><sheets>'
                '<sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>',
            ),
            ("xl/_rels/workbook.xml.rels", _rels(("rId1", f"{_DOC_RELS}/worksheet", "worksheets/sheet1.xml"))),
            (
                "xl/worksheets/sheet1.xml",
                f'{_XML}<worksheet xmlns="{ns}"><sheetData><row r="1">'
                '<c r="A1" t="inlineStr"><is><t>mediahub</t></is></c><c r="B1"><v>42</v></c>'
                "</row></sheetData></worksheet>",
            ),
        ]
    )


@cache
def pptx() -> bytes:
    """A one-slide deck with the parts PowerPoint requires: presentation, slide master, layout, theme, slide."""
    p = "http://schemas.openxmlformats.org/presentationml/2006/main"
    a = "http://schemas.openxmlformats.org/drawingml/2006/main"
    ns = f'xmlns:a="{a}" xmlns:r="{_DOC_RELS}" xmlns:p="{p}"'
    tree = (
        '<p:cSld><p:spTree><p:nvGrpSpPr><p:cNvPr id="1" name=""/><p:cNvGrpSpPr/><p:nvPr/></p:nvGrpSpPr>'
        "<p:grpSpPr/>{shapes}</p:spTree></p:cSld>"
    )
    text_box = (
        '<p:sp><p:nvSpPr><p:cNvPr id="2" name="Title"/><p:cNvSpPr txBox="1"/><p:nvPr/></p:nvSpPr>'
        '<p:spPr><a:xfrm><a:off x="457200" y="457200"/><a:ext cx="8229600" cy="1143000"/></a:xfrm>'
        '<a:prstGeom prst="rect"><a:avLst/></a:prstGeom></p:spPr>'
        "<p:txBody><a:bodyPr/><a:lstStyle/><a:p><a:r><a:t>mediahub</a:t></a:r></a:p></p:txBody></p:sp>"
    )
    color_map = (
        '<p:clrMap bg1="lt1" tx1="dk1" bg2="lt2" tx2="dk2" accent1="accent1" accent2="accent2" '
        'accent3="accent3" accent4="accent4" accent5="accent5" accent6="accent6" hlink="hlink" folHlink="folHlink"/>'
    )
    colors = "".join(
        f'<a:{name}><a:srgbClr val="{value}"/></a:{name}>'
        for name, value in [
            ("dk1", "000000"),
            ("lt1", "FFFFFF"),
            ("dk2", "1F497D"),
            ("lt2", "EEECE1"),
            ("accent1", "4F81BD"),
            ("accent2", "C0504D"),
            ("accent3", "9BBB59"),
            ("accent4", "8064A2"),
            ("accent5", "4BACC6"),
            ("accent6", "F79646"),
            ("hlink", "0000FF"),
            ("folHlink", "800080"),
        ]
    )
    fills = '<a:solidFill><a:schemeClr val="phClr"/></a:solidFill>' * 3
    lines = '<a:ln w="9525"><a:solidFill><a:schemeClr val="phClr"/></a:solidFill></a:ln>' * 3
    theme = (
        f'{_XML}<a:theme xmlns:a="{a}" name="Office"><a:themeElements><a:clrScheme name="Office">{colors}'
        '</a:clrScheme><a:fontScheme name="Office"><a:majorFont><a:latin typeface="Calibri"/><a:ea typeface=""/>'
        '<a:cs typeface=""/></a:majorFont><a:minorFont><a:latin typeface="Calibri"/><a:ea typeface=""/>'
        '<a:cs typeface=""/></a:minorFont></a:fontScheme><a:fmtScheme name="Office">'
        f"<a:fillStyleLst>{fills}</a:fillStyleLst><a:lnStyleLst>{lines}</a:lnStyleLst>"
        "<a:effectStyleLst>" + "<a:effectStyle><a:effectLst/></a:effectStyle>" * 3 + "</a:effectStyleLst>"
        f"<a:bgFillStyleLst>{fills}</a:bgFillStyleLst></a:fmtScheme></a:themeElements></a:theme>"
    )
    pml = "presentationml"
    return _zip(
        [
            (
                "[Content_Types].xml",
                _content_types(
                    {
                        "/ppt/presentation.xml": f"{_ooxml(pml + '.presentation')}.main+xml",
                        "/ppt/slideMasters/slideMaster1.xml": f"{_ooxml(pml + '.slideMaster')}+xml",
                        "/ppt/slideLayouts/slideLayout1.xml": f"{_ooxml(pml + '.slideLayout')}+xml",
                        "/ppt/slides/slide1.xml": f"{_ooxml(pml + '.slide')}+xml",
                        "/ppt/theme/theme1.xml": "application/vnd.openxmlformats-officedocument.theme+xml",
                    }
                ),
            ),
            ("_rels/.rels", _rels(("rId1", _OFFICE_DOC, "ppt/presentation.xml"))),
            (
                "ppt/presentation.xml",
                f"{_XML}<p:presentation {ns}>"
                '<p:sldMasterIdLst><p:sldMasterId id="2147483648" r:id="rId1"/></p:sldMasterIdLst>'
                '<p:sldIdLst><p:sldId id="256" r:id="rId2"/></p:sldIdLst>'
                '<p:sldSz cx="9144000" cy="6858000"/><p:notesSz cx="6858000" cy="9144000"/></p:presentation>',
            ),
            (
                "ppt/_rels/presentation.xml.rels",
                _rels(
                    ("rId1", f"{_DOC_RELS}/slideMaster", "slideMasters/slideMaster1.xml"),
                    ("rId2", f"{_DOC_RELS}/slide", "slides/slide1.xml"),
                    ("rId3", f"{_DOC_RELS}/theme", "theme/theme1.xml"),
                ),
            ),
            (
                "ppt/slideMasters/slideMaster1.xml",
                f"{_XML}<p:sldMaster {ns}>{tree.format(shapes='')}{color_map}"
                '<p:sldLayoutIdLst><p:sldLayoutId id="2147483649" r:id="rId1"/></p:sldLayoutIdLst></p:sldMaster>',
            ),
            (
                "ppt/slideMasters/_rels/slideMaster1.xml.rels",
                _rels(
                    ("rId1", f"{_DOC_RELS}/slideLayout", "../slideLayouts/slideLayout1.xml"),
                    ("rId2", f"{_DOC_RELS}/theme", "../theme/theme1.xml"),
                ),
            ),
            (
                "ppt/slideLayouts/slideLayout1.xml",
                f'{_XML}<p:sldLayout {ns} type="blank">'
                f"{tree.format(shapes='')}<p:clrMapOvr><a:masterClrMapping/></p:clrMapOvr></p:sldLayout>",
            ),
            (
                "ppt/slideLayouts/_rels/slideLayout1.xml.rels",
                _rels(
                    ("rId1", f"{_DOC_RELS}/slideMaster", "../slideMasters/slideMaster1.xml"),
                ),
            ),
            (
                "ppt/slides/slide1.xml",
                f"{_XML}<p:sld {ns}>{tree.format(shapes=text_box)}"
                "<p:clrMapOvr><a:masterClrMapping/></p:clrMapOvr></p:sld>",
            ),
            (
                "ppt/slides/_rels/slide1.xml.rels",
                _rels(
                    ("rId1", f"{_DOC_RELS}/slideLayout", "../slideLayouts/slideLayout1.xml"),
                ),
            ),
            ("ppt/theme/theme1.xml", theme),
        ]
    )


def _ooxml(name: str) -> str:
    return f"application/vnd.openxmlformats-officedocument.{name}"


@cache
def odt() -> bytes:
    """ODF requires `mimetype` as the first entry, stored uncompressed: that is what libmagic reads."""
    office = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
    text = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
    manifest = "urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"
    mime = "application/vnd.oasis.opendocument.text"
    return _zip(
        [
            ("mimetype", mime),
            (
                "content.xml",
                f'{_XML}<office:document-content xmlns:office="{office}" xmlns:text="{text}" '
                'office:version="1.2"><office:body><office:text><text:p>Hello from mediahub</text:p>'
                "</office:text></office:body></office:document-content>",
            ),
            (
                "META-INF/manifest.xml",
                f'{_XML}<manifest:manifest xmlns:manifest="{manifest}" manifest:version="1.2">'
                f'<manifest:file-entry manifest:full-path="/" manifest:media-type="{mime}"/>'
                '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
                "</manifest:manifest>",
            ),
        ],
        stored_first=True,
    )


TEXT = "Grüße aus mediahub — 日本語のテキスト, ελληνικά.\nA second line.\n".encode()


def document_samples() -> list[Sample]:
    return [
        Sample("pdf", "report.pdf", "application/pdf", pdf, "pdf"),
        Sample("docx", "letter.docx", f"{_ooxml('wordprocessingml.document')}", docx, "docx"),
        Sample("xlsx", "sheet.xlsx", f"{_ooxml('spreadsheetml.sheet')}", xlsx, "xlsx"),
        Sample("pptx", "deck.pptx", f"{_ooxml('presentationml.presentation')}", pptx, "pptx"),
        Sample("odt", "essay.odt", "application/vnd.oasis.opendocument.text", odt, "odt"),
        Sample("text-utf8", "notes.txt", "text/plain", TEXT, "txt"),
        Sample("text-with-charset", "notes.txt", "text/plain; charset=utf-8", TEXT, "txt"),
    ]


# --- hostile and broken inputs ----------------------------------------------------


def elf_executable() -> bytes:
    """The 64-byte header of an x86-64 Linux executable (what libmagic keys on), plus padding."""
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    header = ident + struct.pack("<HHIQQQIHHHHHH", 2, 0x3E, 1, 0x401000, 64, 0, 0, 64, 56, 0, 64, 0, 0)
    return header + bytes(448)


def windows_executable() -> bytes:
    """An MZ/PE header: the start of every Windows .exe."""
    dos = b"MZ" + bytes(58) + struct.pack("<I", 64)
    pe = b"PE\0\0" + struct.pack("<HHIIIHH", 0x14C, 1, 0, 0, 0, 0xE0, 0x102)
    return dos + pe + bytes(512)


def zip_archive() -> bytes:
    return _zip([("readme.txt", "not a song\n"), ("data.bin", bytes(range(256)) * 4)])


def png(width: int = 64, height: int = 48) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 80, 40)).save(out, "PNG")
    return out.getvalue()


def eicar_in_pdf() -> bytes:
    """A real PDF with the EICAR string in a trailing comment: libmagic says PDF, clamd must still find it."""
    return pdf(1) + b"%" + EICAR + b"\n"


def eicar_in_text() -> bytes:
    return b"meeting notes\n" + EICAR + b"\nend\n"


def marker_in_text() -> bytes:
    return b"an innocent looking note " + MARKER + b"\n"


ZIP_STAMP = (2024, 1, 1, 0, 0, 0)


def docx_with_part(name: str, data: bytes, *, zip64: bool = False, compress: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A real one-paragraph .docx with one more part, written with ZIP64 records if asked."""
    out = io.BytesIO(docx())
    info = zipfile.ZipInfo(name, date_time=ZIP_STAMP)
    info.compress_type = compress
    with zipfile.ZipFile(out, "a") as archive, archive.open(info, "w", force_zip64=zip64) as part:
        part.write(data)
    return out.getvalue()


def nested_zip(depth: int, payload: bytes) -> bytes:
    """`payload` inside `depth` zips, each inside the next."""
    for level in range(depth):
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(zipfile.ZipInfo("inner.zip" if level else "payload.txt", date_time=ZIP_STAMP), payload, 8)
        payload = out.getvalue()
    return payload
