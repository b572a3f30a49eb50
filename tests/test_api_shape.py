"""The media's JSON is built by hand (web.serializers.MediaOutput.to_representation, for speed); it must stay
exactly what DRF renders from the declared fields, which are also the published schema."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework import serializers
from rest_framework.test import APIRequestFactory

from media.models import Kind, Media, MediaOutput, Status
from web.serializers import MediaCreatedOutput
from web.serializers import MediaOutput as MediaSerializer

pytestmark = pytest.mark.django_db


def drf_rendering(serializer: serializers.ModelSerializer, media: Media) -> dict[str, Any]:
    """What DRF itself makes of the declared fields (the method this module's override replaces)."""
    return dict(serializers.ModelSerializer.to_representation(serializer, media))


def examples(user) -> list[Media]:
    now = timezone.now()
    sha = "ab" * 32
    pending = Media.objects.create(
        owner=user, kind=Kind.DOCUMENT, filename="notes.txt", content_type="text/plain", size=12, checksum_sha256=sha
    )
    ready = Media.objects.create(
        owner=user,
        kind=Kind.IMAGE,
        status=Status.READY,
        progress=100,
        stage="done",
        filename="photo.jpg",
        content_type="image/jpeg",
        size=2048,
        checksum_sha256=sha,
        phash="8f0f0f0f0f0f0f0f",
        original_key="permanent/x/original.jpg",
        metadata={"width": 640, "height": 480, "nested": {"list": [1, 2.5, None]}},
        attempts=2,
        finished_at=now,
    )
    MediaOutput.objects.create(media=ready, name="thumbnail", key=f"{ready.permanent_prefix}thumb.webp")
    MediaOutput.objects.create(media=ready, name="avif_320", key=f"{ready.permanent_prefix}w320.avif")
    failed = Media.objects.create(
        owner=user,
        kind=Kind.VIDEO,
        status=Status.FAILED,
        filename="clip.mp4",
        content_type="video/mp4",
        size=10**10,
        error_code="processing_failed",
        error_message="It broke.",
    )
    playing = Media.objects.create(
        owner=user,
        kind=Kind.VIDEO,
        status=Status.PROCESSING,
        progress=40,
        stage="transcoding",
        filename="long.mov",
        content_type="video/quicktime",
        size=99,
        playable_at=now - timedelta(seconds=3),
    )
    return [Media.objects.get(pk=m.pk) for m in (pending, ready, failed, playing)]


def test_the_hand_built_json_equals_drfs_rendering_for_every_state(user) -> None:
    request = APIRequestFactory().get("/api/media/")
    for media in examples(user):
        serializer = MediaSerializer(media, context={"request": request})
        fast = serializer.data
        assert list(fast) == list(MediaSerializer.Meta.fields)
        # presigned URLs carry the signing time: compare the URLs' presence, the rest byte for byte
        slow = drf_rendering(MediaSerializer(media, context={"request": request}), media)
        assert _without_signatures(fast) == _without_signatures(slow), media.status


def test_the_created_answer_adds_the_upload_as_drf_renders_it(user) -> None:
    media = examples(user)[0]
    media.upload = {
        "method": "PUT",
        "url": "http://127.0.0.1:8333/b/temp/x",
        "headers": {"Content-Type": "text/plain", "x-amz-checksum-sha256": "q83vEjRWeJA="},
        "expires_at": timezone.now(),
    }
    fast = MediaCreatedOutput(media).data
    slow = drf_rendering(MediaCreatedOutput(media), media)
    assert fast == slow
    assert fast["upload"]["expires_at"].endswith("Z") and "upload_id" not in fast["upload"]


def _without_signatures(body: dict[str, Any]) -> dict[str, Any]:
    def strip(value: Any) -> Any:
        if isinstance(value, str) and value.startswith("http"):
            return value.split("?", 1)[0]
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items()}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return strip(body)
