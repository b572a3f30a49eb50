"""Operators' and moderators' views: /metrics and the admin."""

from __future__ import annotations

import io

import django_rq
import pytest
from prometheus_client.parser import text_string_to_metric_families

from media import storage
from media.models import Kind, Media, Status
from tests.helpers import stored_keys


def samples(body: str) -> dict[tuple[str, tuple], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
    }


def make(user, status: Status, kind: Kind = Kind.IMAGE, **fields) -> Media:
    return Media.objects.create(
        owner=user, kind=kind, status=status, filename="cat.jpg", content_type="image/jpeg", size=5, **fields
    )


@pytest.mark.django_db
def test_metrics_count_media_queues_and_components(client, user) -> None:
    make(user, Status.READY)
    make(user, Status.FAILED, kind=Kind.VIDEO)
    answer = client.get("/metrics")
    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("text/plain")
    found = samples(answer.content.decode())
    assert found[("mediahub_media", (("kind", "image"), ("status", "READY")))] == 1
    assert found[("mediahub_media", (("kind", "video"), ("status", "FAILED")))] == 1
    assert found[("mediahub_media", (("kind", "audio"), ("status", "READY")))] == 0
    assert ("mediahub_queue_jobs", (("queue", "images"), ("state", "queued"))) in found
    assert found[("mediahub_up", (("component", "storage"),))] == 1
    assert found[("mediahub_up", (("component", "clamav"),))] == 1


@pytest.mark.django_db
def test_metrics_can_require_a_token(client, settings) -> None:
    settings.METRICS_TOKEN = "s3cret"
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret").status_code == 200


@pytest.fixture
def moderator(client, django_user_model):
    admin = django_user_model.objects.create_superuser("mod", "mod@example.com", "pw")
    client.force_login(admin)
    return client


@pytest.mark.django_db
def test_the_admin_lists_media_with_previews_and_shows_errors(moderator, user) -> None:
    ready = make(user, Status.READY, original_key="permanent/x/original.jpg")
    ready.outputs.create(name="thumbnail", key="permanent/x/thumb.webp")
    rejected = make(
        user,
        Status.REJECTED,
        error_code="malware_detected",
        error_message="Malware.",
        error_detail="Eicar-Signature",
        quarantine_key="quarantine/x",
    )
    page = moderator.get("/admin/media/media/")
    assert page.status_code == 200
    assert b"thumb.webp" in page.content and b"Queues and jobs" in page.content
    assert moderator.get("/admin/media/media/?status__exact=REJECTED").content.count(b"malware_detected") >= 1
    detail = moderator.get(f"/admin/media/media/{rejected.id}/change/")
    assert detail.status_code == 200
    assert b"Eicar-Signature" in detail.content and b"quarantine/x" in detail.content
    assert moderator.get(f"/admin/media/media/{ready.id}/change/").status_code == 200
    assert moderator.get("/admin/django_rq/dashboard/").status_code == 200


@pytest.mark.django_db
def test_admin_actions_retry_failed_and_delete_with_objects(
    moderator, user, django_capture_on_commit_callbacks
) -> None:
    failed = make(user, Status.FAILED)
    done = make(user, Status.READY)
    storage.upload(io.BytesIO(b"x"), f"{done.permanent_prefix}thumb.webp", content_type="image/webp")
    django_rq.get_queue("images").empty()

    with django_capture_on_commit_callbacks(execute=True):
        moderator.post(
            "/admin/media/media/", {"action": "retry_failed", "_selected_action": [failed.id, done.id]}, follow=True
        )
    assert Media.objects.get(pk=failed.pk).status == Status.PROCESSING
    assert Media.objects.get(pk=done.pk).status == Status.READY
    assert django_rq.get_queue("images").count == 1

    moderator.post("/admin/media/media/", {"action": "delete_with_objects", "_selected_action": [done.id]}, follow=True)
    assert not Media.objects.filter(pk=done.pk).exists()
    assert stored_keys(done.permanent_prefix) == []
    django_rq.get_queue("images").empty()
