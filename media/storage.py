"""The one seam to object storage. Nothing else in the project imports boto3.

Built on django-storages' S3Storage, which reads the AWS_* settings. Two
instances: one talks to the store from the server (internal endpoint), the
other only signs URLs for clients, with the endpoint they can reach
(S3_PUBLIC_ENDPOINT_URL), or builds CDN URLs when CDN_DOMAIN is set.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError
from django.conf import settings
from django.utils import timezone
from storages.backends.s3 import S3Storage


@dataclass(frozen=True)
class ObjectInfo:
    size: int
    content_type: str


@lru_cache(maxsize=8)
def _storage(bucket: str, endpoint: str | None, public: bool) -> S3Storage:
    config = Config(
        s3={"addressing_style": settings.AWS_S3_ADDRESSING_STYLE},
        signature_version="s3v4",
        connect_timeout=5,
        read_timeout=60,
        retries={"mode": "standard", "max_attempts": 3},
    )
    return S3Storage(
        bucket_name=bucket,
        endpoint_url=endpoint,
        client_config=config,
        custom_domain=settings.AWS_S3_CUSTOM_DOMAIN if public else None,
    )


def _public() -> S3Storage:
    return _storage(settings.AWS_STORAGE_BUCKET_NAME, settings.S3_PUBLIC_ENDPOINT_URL, True)


_building = threading.Lock()


def _client(bucket: str, endpoint: str | None, public: bool) -> Any:
    """One boto3 client per endpoint for the whole process. Clients are thread-safe, but
    django-storages builds a boto3 resource per thread, and Django under ASGI runs every request in
    a thread of its own: each request paid 100-300 ms of CPU to build one (bench/api.py showed it).
    Built under a lock: the first requests of a busy process arrive together, and each of them
    building the same client (lru_cache does not hold them back) cost seconds of CPU (bench/load.py)."""
    with _building:
        return _built_client(bucket, endpoint, public)


@lru_cache(maxsize=8)
def _built_client(bucket: str, endpoint: str | None, public: bool) -> Any:
    return _storage(bucket, endpoint, public).connection.meta.client


def client() -> Any:
    """The boto3 client, for the few callers (tests, devstack) that need raw calls."""
    return _client(settings.AWS_STORAGE_BUCKET_NAME, settings.AWS_S3_ENDPOINT_URL, False)


def bucket_name() -> str:
    return settings.AWS_STORAGE_BUCKET_NAME


def _signer() -> Any:
    """Signs URLs that clients write with: the endpoint they reach, never a CDN."""
    return _client(bucket_name(), settings.S3_PUBLIC_ENDPOINT_URL, False)


def _write_expiry() -> tuple[int, datetime]:
    expiry = settings.UPLOAD_URL_EXPIRY
    return expiry, timezone.now() + timedelta(seconds=expiry)


def presigned_put(key: str, *, content_type: str, size: int, checksum_sha256: str = "") -> dict[str, Any]:
    """A PUT URL signed for exactly this Content-Type and Content-Length (and checksum, if given).

    The store refuses any other length, type or (with a checksum) other bytes, so
    what lands under the key is what the client declared.
    """
    params: dict[str, Any] = {
        "Bucket": bucket_name(),
        "Key": key,
        "ContentType": content_type,
        "ContentLength": size,
    }
    headers = {"Content-Type": content_type}
    if checksum_sha256:
        b64 = base64.b64encode(bytes.fromhex(checksum_sha256)).decode()
        params["ChecksumSHA256"] = b64
        headers["x-amz-checksum-sha256"] = b64
    expiry, expires_at = _write_expiry()
    url = _signer().generate_presigned_url("put_object", Params=params, ExpiresIn=expiry, HttpMethod="PUT")
    return {"method": "PUT", "url": url, "headers": headers, "expires_at": expires_at}


@dataclass(frozen=True)
class Part:
    number: int
    size: int
    etag: str


class NoSuchUpload(Exception):
    """The multipart upload was completed or aborted (or never existed)."""


def _no_such_upload(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in {"NoSuchUpload", "404"}


def multipart_create(key: str, *, content_type: str) -> str:
    """Start a multipart upload of the key; returns its upload id."""
    answer = client().create_multipart_upload(Bucket=bucket_name(), Key=key, ContentType=content_type)
    return answer["UploadId"]


def presigned_part(key: str, *, upload_id: str, part_number: int, size: int) -> tuple[str, dict[str, str], datetime]:
    """A PUT URL for one part, signed for exactly its length: the store refuses a part of another size.
    Returns the URL, the headers to send with it (none: browsers set Content-Length themselves) and its expiry."""
    params = {
        "Bucket": bucket_name(),
        "Key": key,
        "UploadId": upload_id,
        "PartNumber": part_number,
        "ContentLength": size,
    }
    expiry, expires_at = _write_expiry()
    url = _signer().generate_presigned_url("upload_part", Params=params, ExpiresIn=expiry, HttpMethod="PUT")
    return url, {}, expires_at


def list_parts(key: str, upload_id: str) -> list[Part]:
    """The parts the store holds for the upload, by number; NoSuchUpload when it is gone."""
    parts: list[Part] = []
    try:
        for page in client().get_paginator("list_parts").paginate(Bucket=bucket_name(), Key=key, UploadId=upload_id):
            parts += [Part(p["PartNumber"], p["Size"], p["ETag"]) for p in page.get("Parts", [])]
    except ClientError as exc:
        if _no_such_upload(exc):
            raise NoSuchUpload(upload_id) from exc
        raise
    return sorted(parts, key=lambda part: part.number)


def multipart_complete(key: str, upload_id: str, parts: list[Part]) -> None:
    """Join the parts into the object; NoSuchUpload when the upload is already completed or aborted."""
    listing = [{"PartNumber": part.number, "ETag": part.etag} for part in parts]
    try:
        client().complete_multipart_upload(
            Bucket=bucket_name(), Key=key, UploadId=upload_id, MultipartUpload={"Parts": listing}
        )
    except ClientError as exc:
        if _no_such_upload(exc):
            raise NoSuchUpload(upload_id) from exc
        raise


def multipart_abort(key: str, upload_id: str) -> None:
    """Abort the upload and drop its parts; one already gone is not an error."""
    try:
        client().abort_multipart_upload(Bucket=bucket_name(), Key=key, UploadId=upload_id)
    except ClientError as exc:
        if not _no_such_upload(exc):
            raise


def list_multipart_uploads(prefix: str) -> Iterator[tuple[str, str, datetime]]:
    """(key, upload id, initiated) of every multipart upload in progress under the prefix."""
    paginator = client().get_paginator("list_multipart_uploads")
    for page in paginator.paginate(Bucket=bucket_name(), Prefix=prefix):
        for item in page.get("Uploads", []):
            yield item["Key"], item["UploadId"], item["Initiated"]


def presigned_get(key: str, *, download_name: str = "", expire: int | None = None) -> str:
    """A read URL for a client: presigned, or on the CDN when one is configured."""
    params = {}
    if download_name:
        # RFC 6266/5987: an ASCII fallback, and the exact (Unicode) name percent-encoded
        fallback = download_name.encode("ascii", "replace").decode().replace('"', "_").replace("\\", "_")
        params["ResponseContentDisposition"] = (
            f"inline; filename=\"{fallback}\"; filename*=UTF-8''{quote(download_name, safe='')}"
        )
    if settings.AWS_S3_CUSTOM_DOMAIN:
        return _public().url(key, parameters=params or None, expire=expire)
    return _client(bucket_name(), settings.S3_PUBLIC_ENDPOINT_URL, True).generate_presigned_url(
        "get_object",
        Params={"Bucket": bucket_name(), "Key": key, **params},
        ExpiresIn=settings.AWS_QUERYSTRING_EXPIRE if expire is None else expire,
    )


def head(key: str) -> ObjectInfo | None:
    """Size and type of an object, or None when it does not exist."""
    try:
        answer = client().head_object(Bucket=bucket_name(), Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
            return None
        raise
    return ObjectInfo(size=answer["ContentLength"], content_type=answer.get("ContentType", ""))


class Changed(Exception):
    """The object is no longer the version that was read (its ETag moved): someone wrote it again."""


class StorageError(Exception):
    """The store refused part of a request (a batch delete, say)."""


# What the store raises when it cannot be reached or refuses: callers that answer clients turn
# these into "try again later", without importing botocore themselves.
UNAVAILABLE = (BotoCoreError, ClientError, StorageError)


def is_outage(exc: BaseException) -> bool:
    """The store is down or failing (unreachable, timing out, answering 5xx), as opposed to refusing a
    request: work that met this waits for the store instead of using up its retries."""
    if isinstance(exc, BotoConnectionError | HTTPClientError):
        return True
    return isinstance(exc, ClientError) and exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500


def download(key: str, fileobj: IO[bytes]) -> str:
    """Stream an object into an open binary file, in chunks; returns the ETag of what was read, so a
    later copy can insist on that very version (`copy(..., if_match=etag)`)."""
    answer = client().get_object(Bucket=bucket_name(), Key=key)
    for chunk in answer["Body"].iter_chunks(chunk_size=1024 * 1024):
        fileobj.write(chunk)
    return answer["ETag"]


def upload(source: Path | IO[bytes], key: str, *, content_type: str, cache_control: str | None = None) -> None:
    extra = {"ContentType": content_type}
    if cache_control:
        extra["CacheControl"] = cache_control
    if isinstance(source, Path):
        client().upload_file(str(source), bucket_name(), key, ExtraArgs=extra)
    else:
        client().upload_fileobj(source, bucket_name(), key, ExtraArgs=extra)


SINGLE_COPY_LIMIT = 5 * 1024**3  # bytes: larger objects can only be copied in parts


def copy(
    source_key: str,
    dest_key: str,
    *,
    content_type: str | None = None,
    cache_control: str | None = None,
    if_match: str | None = None,
    size: int | None = None,
) -> None:
    """Server-side copy (multipart for big objects), optionally with a new Content-Type and Cache-Control.
    With `if_match`, only that version of the source is copied; if it was overwritten, Changed.

    Given the `size`, an object up to S3's single-copy limit is copied with one CopyObject; the managed
    copy first asks the store for the size itself and runs a pool of threads, which cost a small upload's
    confirm more CPU than all the rest of its storage calls (bench/load.py)."""
    extra: dict[str, str] = {"CopySourceIfMatch": if_match} if if_match else {}
    if content_type or cache_control:
        extra["MetadataDirective"] = "REPLACE"
    if content_type:
        extra["ContentType"] = content_type
    if cache_control:
        extra["CacheControl"] = cache_control
    source = {"Bucket": bucket_name(), "Key": source_key}
    try:
        if size is not None and size <= SINGLE_COPY_LIMIT:
            client().copy_object(CopySource=source, Bucket=bucket_name(), Key=dest_key, **extra)
        else:
            client().copy(source, bucket_name(), dest_key, ExtraArgs=extra)
    except ClientError as exc:
        if if_match and exc.response.get("Error", {}).get("Code") in {"412", "PreconditionFailed"}:
            raise Changed(f"{source_key} changed after it was read") from exc
        raise


def read(key: str) -> bytes:
    """A small object's bytes (playlists); use download() for media."""
    return client().get_object(Bucket=bucket_name(), Key=key)["Body"].read()


def list_objects(prefix: str) -> Iterator[tuple[str, datetime]]:
    """(key, last modified) of every object under the prefix."""
    paginator = client().get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket_name(), Prefix=prefix):
        for item in page.get("Contents", []):
            yield item["Key"], item["LastModified"]


def list_sizes(prefix: str) -> Iterator[tuple[str, int, datetime]]:
    """(key, size in bytes, last modified) of every object under the prefix."""
    paginator = client().get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket_name(), Prefix=prefix):
        for item in page.get("Contents", []):
            yield item["Key"], item["Size"], item["LastModified"]


def list_keys(prefix: str) -> list[str]:
    return [key for key, _ in list_objects(prefix)]


def delete(keys: Iterable[str]) -> None:
    """Delete objects; a key that is already gone is not an error."""
    batch = [{"Key": k} for k in keys if k]
    for start in range(0, len(batch), 1000):
        answer = client().delete_objects(
            Bucket=bucket_name(), Delete={"Objects": batch[start : start + 1000], "Quiet": True}
        )
        if answer.get("Errors"):
            raise StorageError(f"could not delete {answer['Errors'][:3]}")


def delete_prefix(prefix: str) -> None:
    if not prefix.endswith("/"):
        raise ValueError("prefix must end with '/' so it cannot match a sibling's keys")
    delete(list_keys(prefix))


def ensure_bucket() -> None:
    try:
        client().head_bucket(Bucket=bucket_name())
    except ClientError:
        client().create_bucket(Bucket=bucket_name())


def ping() -> None:
    """Raises when the store or the bucket does not answer."""
    client().head_bucket(Bucket=bucket_name())
