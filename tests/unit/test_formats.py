"""The formats table is the one source: sniffing, the decoders and the accepted types all come from it."""

from __future__ import annotations

import pytest
from django.core.checks import run_checks
from PIL import Image

from processing import audio, formats, images, sniff, video


def test_every_accepted_type_sniffs_as_a_format_of_its_kind(settings) -> None:
    for kind, rules in settings.MEDIA_KINDS.items():
        assert rules["types"] == formats.accepted_types(kind)
        for content_type in rules["types"]:
            families = sniff.TYPE_FAMILIES[content_type]
            assert any(formats.BY_NAME[name].kind == kind for name in families), content_type


def test_the_engines_allow_exactly_the_tables_decoders() -> None:
    assert images.FORMATS == ("JPEG", "PNG", "WEBP", "GIF", "AVIF", "HEIF", "TIFF", "BMP")
    Image.init()  # Pillow registers its plugins lazily
    assert set(images.FORMATS) <= set(Image.OPEN)  # each one has a Pillow opener (HEIF from pillow-heif)
    assert video.VideoSpec().formats == ("mov", "matroska")
    assert audio.DEMUXERS == ("mp3", "mov", "aac", "wav", "flac", "ogg")


def test_an_accepted_type_the_table_does_not_know_fails_the_start_up_check(settings) -> None:
    assert not [e for e in run_checks() if e.id == "media.E001"]
    settings.MEDIA_KINDS = {**settings.MEDIA_KINDS, "image": {"max_size": 1, "types": ["image/jpeg", "image/x-new"]}}
    errors = [e for e in run_checks() if e.id == "media.E001"]
    assert [e.msg for e in errors] == [
        "IMAGE_TYPES names 'image/x-new', which is no image format of processing/formats.py"
    ]


@pytest.mark.parametrize("extension", ["jpg", "heic", "mkv", "m4a", "docx", "txt"])
def test_the_upload_page_maps_extensions_to_accepted_types(settings, extension: str) -> None:
    content_type = formats.extension_types()[extension]
    assert any(content_type in rules["types"] for rules in settings.MEDIA_KINDS.values())
