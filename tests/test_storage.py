"""The S3 store really checks what a presigned URL was signed for (SeaweedFS, like S3)."""

from __future__ import annotations

import hashlib
import uuid

import pytest
import requests

from media import storage
from tests.helpers import put_upload

BODY = b"exactly these bytes"


@pytest.fixture
def key() -> str:
    return f"temp/{uuid.uuid4()}"


def test_the_signed_upload_lands(key: str) -> None:
    upload = storage.presigned_put(key, content_type="text/plain", size=len(BODY))
    assert put_upload(upload, BODY).status_code == 200
    assert storage.head(key) == storage.ObjectInfo(size=len(BODY), content_type="text/plain")
    assert requests.get(storage.presigned_get(key), timeout=10).content == BODY


@pytest.mark.parametrize(
    ("body", "content_type"),
    [(BODY + b"!", "text/plain"), (BODY[:-1], "text/plain"), (BODY, "image/png")],
    ids=["longer", "shorter", "other-content-type"],
)
def test_the_store_refuses_what_was_not_signed(key: str, body: bytes, content_type: str) -> None:
    upload = storage.presigned_put(key, content_type="text/plain", size=len(BODY))
    answer = requests.put(upload["url"], data=body, headers={"Content-Type": content_type}, timeout=10)
    assert answer.status_code == 403
    assert "SignatureDoesNotMatch" in answer.text
    assert storage.head(key) is None


def test_with_a_checksum_the_store_refuses_other_bytes_of_the_same_length(key: str) -> None:
    upload = storage.presigned_put(
        key, content_type="text/plain", size=len(BODY), checksum_sha256=hashlib.sha256(BODY).hexdigest()
    )
    forged = BODY.replace(b"these", b"those")
    assert len(forged) == len(BODY)
    answer = put_upload(upload, forged)
    assert answer.status_code == 400 and "BadDigest" in answer.text
    assert storage.head(key) is None
    assert put_upload(upload, BODY).status_code == 200


def test_a_tampered_signature_and_anonymous_reads_are_refused(key: str) -> None:
    upload = storage.presigned_put(key, content_type="text/plain", size=len(BODY))
    tampered = upload["url"].replace("X-Amz-Signature=", "X-Amz-Signature=0")
    assert requests.put(tampered, data=BODY, headers=upload["headers"], timeout=10).status_code == 403
    assert put_upload(upload, BODY).status_code == 200
    anonymous = f"{storage.client().meta.endpoint_url}/{storage.bucket_name()}/{key}"
    assert requests.get(anonymous, timeout=10).status_code == 403


def test_copy_download_delete_prefix(key: str, tmp_path) -> None:
    upload = storage.presigned_put(key, content_type="text/plain", size=len(BODY))
    put_upload(upload, BODY)
    prefix = f"permanent/{uuid.uuid4()}/"
    storage.copy(key, prefix + "original.txt", content_type="text/plain; charset=utf-8", cache_control="max-age=60")
    (tmp_path / "x").write_bytes(b"x")
    storage.upload(tmp_path / "x", prefix + "x", content_type="a/b")
    assert storage.head(prefix + "original.txt").content_type == "text/plain; charset=utf-8"
    head = storage.client().head_object(Bucket=storage.bucket_name(), Key=prefix + "original.txt")
    assert head["CacheControl"] == "max-age=60"
    with open(tmp_path / "down", "wb") as out:
        storage.download(prefix + "original.txt", out)
    assert (tmp_path / "down").read_bytes() == BODY
    storage.delete_prefix(prefix)
    assert storage.list_keys(prefix) == []
    with pytest.raises(ValueError):
        storage.delete_prefix("permanent")  # would match every media's keys
