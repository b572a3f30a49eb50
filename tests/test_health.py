from __future__ import annotations

import pytest
from django.test import override_settings


@pytest.mark.django_db
def test_every_component_answers(client) -> None:
    answer = client.get("/api/health/")
    body = answer.json()
    assert answer.status_code == 200, body
    assert body["down"] == []
    assert set(body["components"]) == {"database", "redis", "storage", "clamav", "ffmpeg", "ffprobe"}
    assert all(c["status"] == "ok" for c in body["components"].values())


@pytest.mark.django_db
def test_a_component_that_does_not_answer_is_named(client) -> None:
    with override_settings(CLAMD_PORT=1, FFMPEG_BIN="/nonexistent/ffmpeg"):
        answer = client.get("/api/health/")
    assert answer.status_code == 503
    assert answer.json()["down"] == ["clamav", "ffmpeg"]
    assert answer.json()["components"]["storage"]["status"] == "ok"
