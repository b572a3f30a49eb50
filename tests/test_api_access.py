"""Who may call what: token and session authentication, and ownership on every endpoint (another
user's media answers 404, exactly like an unknown id, and nothing about it changes)."""

from __future__ import annotations

import pytest
from django.http import HttpRequest
from rest_framework.test import APIClient

from media import lifecycle
from media.models import Media, Status
from tests import samples
from tests.api_flow import LIST_URL, confirm_url, detail_url, keys_of, retry_url, uploaded

pytestmark = pytest.mark.django_db


def _snapshot(media_id: str) -> tuple:
    media = Media.objects.get(pk=media_id)
    return media.status, media.updated_at, media.attempts, media.error_code, keys_of(media_id)


@pytest.fixture
def victim(api) -> dict[str, dict]:
    """Media of `user` in each state an attacker could try to change: uploaded, READY and FAILED."""
    text = samples.document_samples()[-2]
    pending = uploaded(api, text)
    ready = uploaded(api, text)
    assert api.post(confirm_url(ready["id"])).status_code == 200
    failed = uploaded(api, text)
    lifecycle.start_processing(failed["id"])
    lifecycle.mark_failed(failed["id"], code="processing_failed", message="Broke.")
    return {"pending": pending, "ready": ready, "failed": failed}


CALLS = [
    ("get", detail_url),
    ("delete", detail_url),
    ("post", confirm_url),
    ("post", retry_url),
]


@pytest.mark.parametrize("state", ["pending", "ready", "failed"])
@pytest.mark.parametrize(("method", "url"), CALLS, ids=[f"{m}-{u.__name__}" for m, u in CALLS])
def test_another_users_media_is_a_404_on_every_endpoint_and_nothing_changes(
    other_api: APIClient, victim, state: str, method: str, url
) -> None:
    media_id = victim[state]["id"]
    before = _snapshot(media_id)
    answer = getattr(other_api, method)(url(media_id))
    assert answer.status_code == 404
    assert answer.json() == {"error": {"code": "not_found", "message": "There is no media with this id."}}
    assert _snapshot(media_id) == before


def test_another_users_media_is_not_listed(api, other_api: APIClient, victim) -> None:
    assert other_api.get(LIST_URL).json()["count"] == 0
    assert api.get(LIST_URL).json()["count"] == 3


def test_the_owner_still_gets_the_media_after_another_user_tried(api, other_api: APIClient, victim) -> None:
    media_id = victim["ready"]["id"]
    other_api.delete(detail_url(media_id))
    answer = api.get(detail_url(media_id))
    assert answer.status_code == 200 and answer.json()["status"] == Status.READY


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", LIST_URL), ("post", LIST_URL), ("get", "/api/media/00000000-0000-0000-0000-000000000000/")],
)
def test_anonymous_calls_are_refused_with_the_error_shape(method: str, path: str) -> None:
    answer = getattr(APIClient(), method)(path)
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "not_authenticated"
    assert answer["WWW-Authenticate"].startswith("Token")


def test_a_wrong_token_is_refused() -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    answer = client.get(LIST_URL)
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "authentication_failed"


def test_the_token_endpoint_gives_a_token_that_works(user) -> None:
    answer = APIClient().post("/api/auth/token/", {"username": user.username, "password": "pw"}, format="json")
    assert answer.status_code == 200
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {answer.json()['token']}")
    assert client.get(LIST_URL).status_code == 200


def test_the_token_endpoint_refuses_a_wrong_password(user) -> None:
    answer = APIClient().post("/api/auth/token/", {"username": user.username, "password": "nope"}, format="json")
    assert answer.status_code == 400
    assert answer.json()["error"]["field"] == "non_field_errors"
    assert "token" not in answer.json()


def test_a_session_login_works_and_needs_csrf_for_writes(user) -> None:
    client = APIClient(enforce_csrf_checks=True)
    # django-axes counts every login, so it needs the request: the test client's login() has none
    assert client.login(request=HttpRequest(), username=user.username, password="pw")
    assert client.get(LIST_URL).status_code == 200
    refused = client.post(LIST_URL, {"filename": "a.txt", "content_type": "text/plain", "size": 3}, format="json")
    assert refused.status_code == 403 and "CSRF" in refused.json()["error"]["message"]
    assert not Media.objects.exists()
