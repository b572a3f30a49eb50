"""Small guards found in review: throttles, admin permissions, the spool sweep, clamd's size limit."""

from __future__ import annotations

import io
import os
import time

import pytest
from django.contrib.auth.models import Permission
from django.core.cache import cache
from redis.exceptions import ConnectionError as RedisConnectionError
from rest_framework.throttling import ScopedRateThrottle

from media import spool
from media.models import Kind, Media, Status
from processing import scan
from processing.errors import Rejected


@pytest.mark.django_db
def test_the_token_endpoint_is_throttled(client, django_user_model, monkeypatch) -> None:
    django_user_model.objects.create_user("guess", password="right")
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"auth_token": "3/minute", "media_create": "9/minute"})
    key = ScopedRateThrottle.cache_format % {"scope": "auth_token", "ident": "127.0.0.1"}
    cache.delete(key)
    try:
        codes = [
            client.post("/api/auth/token/", {"username": "guess", "password": "wrong"}).status_code for _ in range(4)
        ]
        assert codes == [400, 400, 400, 429]
    finally:
        cache.delete(key)


@pytest.mark.django_db
def test_create_is_not_refused_when_redis_is_down(api, monkeypatch) -> None:
    def down(*args, **kwargs):  # fault injection: the throttle's Redis cache does not answer
        raise RedisConnectionError("Connection refused")

    monkeypatch.setattr(cache, "get", down)
    answer = api.post("/api/media/", {"filename": "a.txt", "content_type": "text/plain", "size": 5}, format="json")
    assert answer.status_code == 201


@pytest.mark.django_db
def test_staff_who_may_only_view_cannot_delete_or_retry(client, django_user_model, user) -> None:
    viewer = django_user_model.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_media"))
    media = Media.objects.create(
        owner=user, kind=Kind.IMAGE, status=Status.FAILED, filename="a.jpg", content_type="image/jpeg", size=5
    )
    client.force_login(viewer)
    page = client.get("/admin/media/media/")
    assert page.status_code == 200
    assert b"delete_with_objects" not in page.content and b"retry_failed" not in page.content
    client.post("/admin/media/media/", {"action": "delete_with_objects", "_selected_action": [media.id]})
    client.post("/admin/media/media/", {"action": "retry_failed", "_selected_action": [media.id]})
    assert Media.objects.get(pk=media.id).status == Status.FAILED


def test_the_spool_is_swept_of_what_a_killed_worker_left(settings, tmp_path) -> None:
    settings.SPOOL_DIR = tmp_path
    stale, fresh = tmp_path / "dl-stale", tmp_path / "dl-fresh"
    stale.write_bytes(b"x")
    fresh.write_bytes(b"x")
    old = time.time() - 10 * 24 * 3600
    os.utime(stale, (old, old))
    with spool.workdir() as work:
        assert work.parent.parent == tmp_path  # in this process's own folder (media/spool.py)
    assert not stale.exists() and fresh.exists()


def test_a_file_over_clamds_size_limit_is_rejected_not_waiting(monkeypatch) -> None:
    # fault injection: clamd's answer past its StreamMaxLength (the project's clamd allows 2 GB,
    # so the real one would need 2 GB streamed to say it)
    monkeypatch.setattr(scan, "_instream", lambda *_: {"stream": ("ERROR", "INSTREAM size limit exceeded")})
    with pytest.raises(Rejected) as caught:
        scan.scan(io.BytesIO(b"x"), scan.Clamd())
    assert caught.value.code == "too_large"
