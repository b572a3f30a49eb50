"""Duplicates through the API: the same bytes again (SHA-256) are noted as `duplicate_of`, a resized or
re-encoded copy of a photo is listed in `near_duplicates` (perceptual hash), closest first, and only
among the same owner's media."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from pathlib import Path

import django_rq
import pytest
from PIL import Image
from rest_framework.test import APIClient
from rq import Queue

from media.models import Media
from tests.api_flow import confirm, create, get_media, run_worker, submit, upload
from tests.helpers import clear_queue

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def images_queue(settings, tmp_path) -> Iterator[Queue]:
    settings.SPOOL_DIR = tmp_path / "spool"
    settings.IMAGE_WIDTHS = [320]  # the widths are not under test here
    queue = django_rq.get_queue("images")
    clear_queue(queue)
    yield queue
    clear_queue(queue)


def variant(photo: Path, scale: float, fmt: str) -> bytes:
    with Image.open(photo) as img:
        out = io.BytesIO()
        img.convert("RGB").resize((int(img.width * scale), int(img.height * scale))).save(out, fmt, quality=75)
        return out.getvalue()


def test_exact_and_near_duplicates_of_the_same_owner(
    api: APIClient, other_api: APIClient, images_queue: Queue, corpus: Path
) -> None:
    photo = corpus / "camera" / "DSCN0010.jpg"
    body = photo.read_bytes()
    first = submit(api, filename="a.jpg", content_type="image/jpeg", body=body)
    smaller = submit(api, filename="b.webp", content_type="image/webp", body=variant(photo, 0.5, "WEBP"))
    other_photo = submit(
        api, filename="c.jpg", content_type="image/jpeg", body=(corpus / "camera" / "DSCN0021.jpg").read_bytes()
    )
    someone_elses = submit(other_api, filename="a.jpg", content_type="image/jpeg", body=body)
    run_worker(images_queue)

    # the same bytes again, declared with their checksum: noted at confirm already
    created = create(
        api,
        filename="again.jpg",
        content_type="image/jpeg",
        size=len(body),
        checksum_sha256=hashlib.sha256(body).hexdigest(),
    ).json()
    upload(created, body)
    confirmed = confirm(api, created["id"]).json()
    assert confirmed["duplicate_of"] == first
    run_worker(images_queue)

    # without a declared checksum the worker computes it: the first upload's twin is found the same way
    assert Media.objects.get(pk=first).checksum_sha256 == hashlib.sha256(body).hexdigest()
    assert get_media(api, first)["duplicate_of"] is None  # the earliest is the original, not a copy
    again = get_media(api, created["id"])
    assert again["near_duplicates"][0] == first  # distance 0 first
    assert set(again["near_duplicates"]) == {first, smaller}
    assert set(get_media(api, first)["near_duplicates"]) == {created["id"], smaller}
    assert other_photo not in get_media(api, smaller)["near_duplicates"]
    assert get_media(api, other_photo)["near_duplicates"] == []
    # another owner's copy is never shown, either way
    assert someone_elses not in get_media(api, first)["near_duplicates"]
    assert get_media(other_api, someone_elses)["near_duplicates"] == []
    assert get_media(other_api, someone_elses)["duplicate_of"] is None
    assert len(Media.objects.get(pk=first).phash) == 16
