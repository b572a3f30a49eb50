"""The upload page and its login, as Django serves them (the browser test drives them for real)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_anonymous_visitors_are_sent_to_the_login_page() -> None:
    answer = Client().get("/")
    assert answer.status_code == 302
    assert answer["Location"] == "/login/?next=/"


def test_any_active_user_logs_in_and_gets_the_page(user: Any) -> None:
    client = Client()
    assert client.get("/login/").status_code == 200
    answer = client.post("/login/?next=/", {"username": user.username, "password": "pw", "next": "/"})
    assert answer.status_code == 302 and answer["Location"] == "/"
    page = client.get("/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="file-input"' in html and "multiple" in html
    assert "/static/vendor/hls.js/hls.min.js" in html  # served from the project, never a CDN
    assert "cdn" not in html.lower()
    start = html.index('<script id="mediahub-config" type="application/json">')
    config = json.loads(html[start:].split(">", 1)[1].split("</script>", 1)[0])
    assert config["api"] == "/api/media/" and config["ws"] == "/ws/media/"
    assert config["csrfToken"]
    # the formats table reaches the page: extensions for files the browser names no type for, and the picker
    assert config["typeByExtension"]["heic"] == "image/heic" and config["typeByExtension"]["mkv"] == "video/webm"
    accept = html.split('accept="', 1)[1].split('"', 1)[0].split(",")
    assert {"image/jpeg", "video/webm", "text/plain", ".heic", ".docx"} <= set(accept)


def test_a_wrong_password_shows_an_error(user: Any) -> None:
    answer = Client().post("/login/", {"username": user.username, "password": "nope"})
    assert answer.status_code == 200
    assert 'role="alert"' in answer.content.decode()


def test_logging_out_ends_the_session(user: Any) -> None:
    client = Client()
    client.force_login(user)
    assert client.post("/logout/").status_code == 302
    assert client.get("/").status_code == 302


def test_the_page_scripts_are_static_files() -> None:
    from django.contrib.staticfiles import finders

    assert finders.find("media/upload.js") and finders.find("media/upload.css")
