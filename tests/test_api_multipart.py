"""Multipart uploads through the API against SeaweedFS: each path, each bad input, and the expiry of
an abandoned upload. Files are a few 5 MiB parts of text (S3's smallest part), checked inline as documents."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from typing import Any

import pytest
import requests
from django.utils import timezone
from rest_framework.test import APIClient

from media import maintenance, storage
from media.models import Media, Status
from tests.api_flow import NOTHING, action_url, confirm, create, detail_url, keys_of
from tests.helpers import put_upload

pytestmark = pytest.mark.django_db

MiB = 1024 * 1024
PART = 5 * MiB
BODY = (b"mediahub multipart test line, plain ASCII text.\n" * (2 * PART // 48 + 1000))[: 2 * PART + 4321]
COUNT = 3  # two full parts and a short last one


@pytest.fixture(autouse=True)
def small_parts(settings: Any) -> None:
    settings.MULTIPART_PART_SIZE = PART
    settings.CONFIRM_HEAD_MAX_WAIT = 0.3  # nothing late is coming where confirm finds no object


def start(api: APIClient, body: bytes = BODY, **extra: Any) -> dict[str, Any]:
    answer = create(api, filename="big.txt", content_type="text/plain", size=len(body), multipart=True, **extra)
    assert answer.status_code == 201, answer.json()
    return answer.json()


def sign(api: APIClient, media_id: str, numbers: list[int]) -> list[dict[str, Any]]:
    answer = api.post(action_url(media_id, "parts"), {"part_numbers": numbers}, format="json")
    assert answer.status_code == 200, answer.json()
    return answer.json()["parts"]


def chunk(number: int, body: bytes = BODY) -> bytes:
    return body[(number - 1) * PART : number * PART]


def put_parts(api: APIClient, media_id: str, numbers: list[int], body: bytes = BODY) -> dict[int, str]:
    """PUT the parts with the signed URLs and headers only, as a browser would; their ETags by number."""
    etags = {}
    for part in sign(api, media_id, numbers):
        answer = requests.put(part["url"], data=chunk(part["part_number"], body), headers=part["headers"], timeout=30)
        assert answer.status_code == 200, answer.text
        etags[part["part_number"]] = answer.headers["ETag"]
    return etags


def complete(api: APIClient, media_id: str, etags: dict[int, str]) -> Any:
    parts = [{"part_number": number, "etag": etag} for number, etag in sorted(etags.items())]
    return api.post(action_url(media_id, "complete"), {"parts": parts}, format="json")


def open_uploads(media_id: str) -> list[str]:
    return [upload_id for key, upload_id, _ in storage.list_multipart_uploads(f"temp/{media_id}")]


def test_a_big_file_gets_a_multipart_upload_that_completes_and_confirms_to_ready(api, settings) -> None:
    settings.MULTIPART_THRESHOLD = 2 * PART  # by size, without asking
    created = create(api, filename="big.txt", content_type="text/plain", size=len(BODY)).json()
    upload = created["upload"]
    assert upload["method"] == "MULTIPART" and (upload["part_size"], upload["part_count"]) == (PART, COUNT)
    assert upload["upload_id"] and "url" not in upload and upload["expires_at"]
    media_id = created["id"]
    signed = sign(api, media_id, [3, 1, 2])
    assert [p["part_number"] for p in signed] == [3, 1, 2] and all(p["url"].startswith("http") for p in signed)
    etags = put_parts(api, media_id, [1, 2, 3])
    listed = api.get(action_url(media_id, "parts")).json()
    assert (listed["part_size"], listed["part_count"], listed["upload_id"]) == (PART, COUNT, upload["upload_id"])
    assert [(p["part_number"], p["size"]) for p in listed["parts"]] == [(1, PART), (2, PART), (3, 4321)]
    answer = complete(api, media_id, etags)
    assert answer.status_code == 200 and answer.json()["status"] == Status.PENDING
    assert storage.head(f"temp/{media_id}").size == len(BODY) and open_uploads(media_id) == []
    confirmed = confirm(api, media_id)
    assert confirmed.status_code == 200 and confirmed.json()["status"] == Status.READY, confirmed.json()
    original = requests.get(confirmed.json()["urls"]["original"], timeout=30)
    assert original.content == BODY


def test_small_files_and_checksums_get_a_single_put(api, settings) -> None:
    settings.MULTIPART_THRESHOLD = 10
    with_checksum = create(api, filename="a.txt", content_type="text/plain", size=20, checksum_sha256="ab" * 32).json()
    assert with_checksum["upload"]["method"] == "PUT"
    small = create(api, filename="a.txt", content_type="text/plain", size=20, multipart=False).json()
    assert small["upload"]["method"] == "PUT" and Media.objects.get(pk=small["id"]).upload_id == ""
    refused = create(
        api, filename="a.txt", content_type="text/plain", size=20, multipart=True, checksum_sha256="ab" * 32
    )
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "checksum_not_supported"


def test_a_reloaded_client_lists_the_stored_parts_and_sends_only_the_rest(api) -> None:
    created = start(api)
    first = put_parts(api, created["id"], [2])
    listed = api.get(action_url(created["id"], "parts")).json()["parts"]
    assert [(p["part_number"], p["etag"]) for p in listed] == [(2, first[2])]
    rest = put_parts(api, created["id"], [n for n in range(1, COUNT + 1) if n not in {2}])
    assert complete(api, created["id"], {**first, **rest}).status_code == 200
    assert storage.head(f"temp/{created['id']}").size == len(BODY)


def test_confirm_before_complete_says_which_parts_are_missing(api) -> None:
    created = start(api)
    put_parts(api, created["id"], [1])
    answer = confirm(api, created["id"])
    assert answer.status_code == 409 and answer.json()["status"] == Status.PENDING
    error = answer.json()["error"]
    assert error["code"] == "upload_incomplete" and "Parts 2, 3 of 3" in error["message"], error


def test_complete_with_a_part_missing_is_a_conflict_and_changes_nothing(api) -> None:
    created = start(api)
    etags = put_parts(api, created["id"], [1, 3])
    unlisted = complete(api, created["id"], etags)
    assert unlisted.status_code == 409 and unlisted.json()["error"]["code"] == "part_missing"
    assert "lacks 2" in unlisted.json()["error"]["message"]
    not_stored = complete(api, created["id"], {**etags, 2: '"0123456789abcdef0123456789abcdef"'})
    assert not_stored.status_code == 409 and not_stored.json()["error"]["code"] == "part_missing"
    assert "Parts 2 of 3 are not in storage" in not_stored.json()["error"]["message"]
    assert open_uploads(created["id"]) == [created["upload"]["upload_id"]]
    assert keys_of(created["id"]) == NOTHING


def test_complete_with_a_wrong_etag_is_a_conflict(api) -> None:
    created = start(api)
    etags = put_parts(api, created["id"], [1, 2, 3])
    answer = complete(api, created["id"], {**etags, 3: '"ffffffffffffffffffffffffffffffff"'})
    assert answer.status_code == 409 and answer.json()["error"]["code"] == "etag_mismatch"
    assert "Parts 3" in answer.json()["error"]["message"]
    assert storage.head(f"temp/{created['id']}") is None
    assert complete(api, created["id"], etags).status_code == 200  # the right list still completes


def test_a_part_of_the_wrong_size_is_refused_by_the_store_and_by_complete(api) -> None:
    created = start(api)
    media = Media.objects.get(pk=created["id"])
    url = sign(api, created["id"], [1])[0]["url"]
    refused = requests.put(url, data=chunk(1)[:-1], timeout=30)  # the URL is signed for the part's length
    assert refused.status_code == 403
    etags = put_parts(api, created["id"], [2, 3])
    # Fault injection: a part of the wrong length, written with the server's own credentials, because
    # the signed URLs cannot produce one; complete must still refuse it.
    short = storage.client().upload_part(
        Bucket=storage.bucket_name(), Key=media.temp_key, UploadId=media.upload_id, PartNumber=1, Body=chunk(1)[:-10]
    )
    answer = complete(api, created["id"], {**etags, 1: short["ETag"]})
    assert answer.status_code == 409 and answer.json()["error"]["code"] == "part_size_mismatch"
    assert storage.head(media.temp_key) is None


def test_complete_twice_answers_the_same_and_complete_then_confirm_checks_the_file(api) -> None:
    created = start(api)
    etags = put_parts(api, created["id"], [1, 2, 3])
    first, second = complete(api, created["id"], etags), complete(api, created["id"], etags)
    assert (first.status_code, second.status_code) == (200, 200)
    assert first.json()["status"] == second.json()["status"] == Status.PENDING
    assert storage.head(f"temp/{created['id']}").size == len(BODY)
    assert confirm(api, created["id"]).json()["status"] == Status.READY
    late = complete(api, created["id"], etags)
    assert late.status_code == 409 and late.json()["error"]["code"] == "not_pending"
    assert api.get(action_url(created["id"], "parts")).status_code == 409


def test_abort_then_confirm_is_upload_missing_and_a_fresh_upload_works(api) -> None:
    created = start(api)
    put_parts(api, created["id"], [1])
    assert api.delete(action_url(created["id"], "upload")).status_code == 204
    assert open_uploads(created["id"]) == []
    with pytest.raises(storage.NoSuchUpload):
        storage.list_parts(f"temp/{created['id']}", created["upload"]["upload_id"])
    gone = api.get(action_url(created["id"], "parts"))
    assert gone.status_code == 409 and gone.json()["error"]["code"] == "no_multipart_upload"
    answer = confirm(api, created["id"])
    assert answer.status_code == 409 and answer.json()["error"]["code"] == "upload_missing"
    assert answer.json()["status"] == Status.PENDING
    # the PENDING media gets a fresh upload: a single PUT, then again a multipart one
    fresh = api.post(action_url(created["id"], "upload"), {"multipart": False}, format="json")
    assert fresh.status_code == 200 and fresh.json()["upload"]["method"] == "PUT"
    renewed = api.post(action_url(created["id"], "upload"), {"multipart": True}, format="json").json()["upload"]
    assert renewed["method"] == "MULTIPART" and renewed["upload_id"] != created["upload"]["upload_id"]
    etags = put_parts(api, created["id"], [1, 2, 3])
    assert complete(api, created["id"], etags).status_code == 200
    assert confirm(api, created["id"]).json()["status"] == Status.READY


def test_a_fresh_upload_drops_what_was_uploaded_before(api) -> None:
    created = start(api)
    put_parts(api, created["id"], [1, 2])
    renewed = api.post(action_url(created["id"], "upload"), {}, format="json").json()["upload"]
    assert open_uploads(created["id"]) == [renewed["upload_id"]]
    assert api.get(action_url(created["id"], "parts")).json()["parts"] == []


def test_a_pending_single_put_media_gets_a_new_url_when_its_own_expired(api, settings) -> None:
    settings.UPLOAD_URL_EXPIRY = 1
    created = create(api, filename="a.txt", content_type="text/plain", size=11).json()
    time.sleep(2)
    assert put_upload(created["upload"], b"hello world").status_code == 403
    settings.UPLOAD_URL_EXPIRY = 900
    fresh = api.post(action_url(created["id"], "upload"), format="json")
    assert fresh.status_code == 200 and fresh.json()["upload"]["method"] == "PUT"
    assert put_upload(fresh.json()["upload"], b"hello world").status_code == 200
    assert confirm(api, created["id"]).json()["status"] == Status.READY
    assert api.post(action_url(created["id"], "upload")).json()["error"]["code"] == "not_pending"
    assert api.delete(action_url(created["id"], "upload")).status_code == 409


@pytest.mark.parametrize(
    ("numbers", "status", "code"),
    [
        ([], 400, "min_length"),
        ([0], 400, "min_value"),
        ([4], 400, "invalid_part_number"),
        ([1, 1], 400, "duplicate_part_number"),
        (list(range(1, 102)), 400, "max_length"),
    ],
)
def test_bad_part_numbers_are_refused(api, numbers: list[int], status: int, code: str) -> None:
    created = start(api)
    answer = api.post(action_url(created["id"], "parts"), {"part_numbers": numbers}, format="json")
    assert answer.status_code == status and answer.json()["error"]["code"] == code, answer.json()


def test_parts_of_a_single_put_upload_are_a_conflict(api) -> None:
    created = create(api, filename="a.txt", content_type="text/plain", size=11).json()
    answer = api.post(action_url(created["id"], "parts"), {"part_numbers": [1]}, format="json")
    assert answer.status_code == 409 and answer.json()["error"]["code"] == "no_multipart_upload"
    assert complete(api, created["id"], {1: '"x"'}).status_code == 409


def test_another_users_media_answers_404_and_changes_nothing(api, other_api) -> None:
    created = start(api)
    etags = put_parts(api, created["id"], [1, 2, 3])
    media_id = created["id"]
    answers = [
        other_api.get(action_url(media_id, "parts")),
        other_api.post(action_url(media_id, "parts"), {"part_numbers": [1]}, format="json"),
        other_api.post(
            action_url(media_id, "complete"), {"parts": [{"part_number": 1, "etag": etags[1]}]}, format="json"
        ),
        other_api.delete(action_url(media_id, "upload")),
        other_api.post(action_url(media_id, "upload"), {"multipart": False}, format="json"),
    ]
    assert [a.status_code for a in answers] == [404] * 5
    assert all(a.json()["error"]["code"] == "not_found" for a in answers)
    assert open_uploads(media_id) == [created["upload"]["upload_id"]]
    assert len(api.get(action_url(media_id, "parts")).json()["parts"]) == COUNT
    assert complete(api, media_id, etags).status_code == 200


def test_an_abandoned_upload_expires_with_its_parts_gone_from_the_store(api) -> None:
    created = start(api)
    put_parts(api, created["id"], [1, 2])
    Media.objects.filter(pk=created["id"]).update(created_at=timezone.now() - timedelta(days=2))
    report = maintenance.expire_pending()
    assert report.actions["expire"] == [created["id"]]
    media = Media.objects.get(pk=created["id"])
    assert media.status == Status.EXPIRED
    assert open_uploads(created["id"]) == []
    with pytest.raises(storage.NoSuchUpload):
        storage.list_parts(media.temp_key, created["upload"]["upload_id"])
    assert keys_of(created["id"]) == NOTHING


def test_stray_multipart_uploads_are_aborted_after_the_grace_period(api, settings) -> None:
    held = start(api)
    stray_key = f"temp/{uuid.uuid4()}"  # as if the media were deleted while its abort failed
    stray = storage.multipart_create(stray_key, content_type="text/plain")
    settings.MULTIPART_ABORT_GRACE_MINUTES = 60
    assert "abort stray multipart upload" not in maintenance.abort_stray_uploads().actions
    settings.MULTIPART_ABORT_GRACE_MINUTES = -1  # everything is past its grace now
    dry = maintenance.abort_stray_uploads(dry_run=True)
    assert stray_key in dry.actions["abort stray multipart upload"]
    assert stray in open_uploads(stray_key.removeprefix("temp/"))
    maintenance.abort_stray_uploads()
    assert open_uploads(stray_key.removeprefix("temp/")) == []
    assert open_uploads(held["id"]) == [held["upload"]["upload_id"]]  # a PENDING media's upload stays


def test_deleting_the_media_aborts_its_upload(api) -> None:
    created = start(api)
    put_parts(api, created["id"], [1])
    assert api.delete(detail_url(created["id"])).status_code == 204
    assert open_uploads(created["id"]) == []


def test_the_endpoints_are_in_the_openapi_schema(api) -> None:
    paths = api.get("/api/schema/", {"format": "json"}).json()["paths"]
    assert {"get", "post"} <= set(paths["/api/media/{id}/parts/"])
    assert "post" in paths["/api/media/{id}/complete/"]
    assert {"post", "delete"} <= set(paths["/api/media/{id}/upload/"])


def test_with_the_store_down_create_answers_503_and_leaves_no_media(api, settings) -> None:
    settings.AWS_S3_ENDPOINT_URL = "http://127.0.0.1:1"  # a real outage: nothing listens there
    answer = create(api, filename="big.txt", content_type="text/plain", size=len(BODY), multipart=True)
    assert answer.status_code == 503 and answer["Retry-After"] == "30"
    assert answer.json()["error"]["code"] == "storage_unavailable"
    assert not Media.objects.exists()
