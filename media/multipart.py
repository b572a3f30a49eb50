"""Multipart uploads: a big file goes to the store in parts, in parallel, and survives a dropped
connection or a reload.

The media row keeps S3's upload id and the part size. The client asks for presigned part URLs in
batches (each signed for its part's exact length), PUTs the parts straight to the store, lists the
parts already stored to resume, and completes: the server checks every part's number, ETag and size
against the declared size before the store joins them into temp/<id>. Then confirm, as after a
single PUT. Every write checks that the media is still PENDING and still has the same upload.
"""

from __future__ import annotations

import contextlib
import math
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings

from media import storage
from media.errors import UploadError, conflict
from media.models import Media, Status
from processing.codes import ErrorCode


def part_size_for(size: int) -> int:
    """MULTIPART_PART_SIZE, or more (whole MiB) when the file would need over S3's 10,000 parts."""
    mib = 1024 * 1024
    smallest = math.ceil(size / settings.S3_MAX_PARTS / mib) * mib
    return max(settings.MULTIPART_PART_SIZE, smallest)


def part_count(media: Media) -> int:
    return math.ceil(media.size / media.part_size)


def part_length(media: Media, number: int) -> int:
    """Every part is part_size long but the last, which holds the rest."""
    return min(media.part_size, media.size - (number - 1) * media.part_size)


def wants_multipart(*, size: int, asked: bool | None, checksum_sha256: str) -> bool:
    """Multipart from MULTIPART_THRESHOLD up, or when the client asks; never with a whole-file checksum,
    which the store can only enforce on a single PUT."""
    if asked is not None:
        if asked and checksum_sha256:
            raise UploadError(
                ErrorCode.CHECKSUM_NOT_SUPPORTED,
                "A multipart upload cannot carry a whole-file checksum; leave out checksum_sha256 or multipart.",
                "multipart",
            )
        return asked
    return size >= settings.MULTIPART_THRESHOLD and not checksum_sha256


def _expires_at(media: Media) -> datetime:
    """A multipart upload lives as long as its media may stay PENDING; the expiry job aborts it then."""
    return media.created_at + timedelta(hours=settings.PENDING_TTL_HOURS)


def _pending(media: Media) -> Media:
    media.refresh_from_db()
    if media.status != Status.PENDING:
        raise conflict(ErrorCode.NOT_PENDING, f"The upload of this media is over; it is {media.status}.")
    return media


def _open_upload(media: Media) -> Media:
    media = _pending(media)
    if not media.upload_id:
        raise conflict(
            ErrorCode.NO_MULTIPART_UPLOAD,
            "This media has no multipart upload in progress (it was a single PUT, completed or aborted).",
        )
    return media


def upload_start(media: Media, *, multipart: bool) -> dict[str, Any]:
    """A fresh upload for a PENDING media: one presigned PUT, or a new multipart upload under temp/<id>."""
    if not multipart:
        if media.upload_id or media.part_size:  # it had a multipart upload; a new media has none to forget
            Media.objects.filter(pk=media.id, status=Status.PENDING).update(upload_id="", part_size=0)
            media.upload_id, media.part_size = "", 0
        return storage.presigned_put(
            media.temp_key, content_type=media.content_type, size=media.size, checksum_sha256=media.checksum_sha256
        )
    upload_id = storage.multipart_create(media.temp_key, content_type=media.content_type)
    part_size = part_size_for(media.size)
    if not Media.objects.filter(pk=media.id, status=Status.PENDING).update(upload_id=upload_id, part_size=part_size):
        storage.multipart_abort(media.temp_key, upload_id)
        raise conflict(ErrorCode.NOT_PENDING, "The upload of this media is over.")
    media.upload_id, media.part_size = upload_id, part_size
    return {
        "method": "MULTIPART",
        "upload_id": upload_id,
        "part_size": part_size,
        "part_count": part_count(media),
        "expires_at": _expires_at(media),
    }


def upload_abort(*, media: Media) -> None:
    """Drop the media's upload (its parts, or bytes already PUT); the media stays PENDING and can ask
    for a fresh upload."""
    media = _pending(media)
    if media.upload_id:
        storage.multipart_abort(media.temp_key, media.upload_id)
        Media.objects.filter(pk=media.id, upload_id=media.upload_id).update(upload_id="")
        media.upload_id = ""
    storage.delete([media.temp_key])


def upload_renew(*, media: Media, multipart: bool | None) -> dict[str, Any]:
    """A PENDING media's fresh upload (its URL expired, or the client starts over): whatever was
    uploaded so far is dropped. Unless asked otherwise, the same method as before."""
    upload_abort(media=media)
    asked = bool(media.part_size) if multipart is None else multipart
    return upload_start(
        media, multipart=wants_multipart(size=media.size, asked=asked, checksum_sha256=media.checksum_sha256)
    )


def parts_sign(*, media: Media, part_numbers: list[int]) -> tuple[list[dict[str, Any]], datetime | None]:
    """Presigned PUT URLs of the given parts, each signed for its exact length, and when they expire."""
    media = _open_upload(media)
    count = part_count(media)
    if any(not 1 <= number <= count for number in part_numbers):
        raise UploadError(ErrorCode.INVALID_PART_NUMBER, f"Part numbers run from 1 to {count}.", "part_numbers")
    parts, expires_at = [], None
    for number in part_numbers:
        url, headers, expires_at = storage.presigned_part(
            media.temp_key, upload_id=media.upload_id, part_number=number, size=part_length(media, number)
        )
        parts.append({"part_number": number, "url": url, "headers": headers})
    return parts, expires_at


def _stored(media: Media) -> list[storage.Part]:
    try:
        return storage.list_parts(media.temp_key, media.upload_id)
    except storage.NoSuchUpload:
        Media.objects.filter(pk=media.id, upload_id=media.upload_id).update(upload_id="")
        raise conflict(
            ErrorCode.NO_MULTIPART_UPLOAD, "The multipart upload is gone from storage; ask for a fresh upload."
        ) from None


def parts_list(*, media: Media) -> dict[str, Any]:
    """The upload and the parts the store already holds, to resume after a reload or on another connection."""
    media = _open_upload(media)
    parts = [{"part_number": p.number, "size": p.size, "etag": p.etag} for p in _stored(media)]
    return {
        "upload_id": media.upload_id,
        "part_size": media.part_size,
        "part_count": part_count(media),
        "parts": parts,
    }


def _numbers(numbers: list[int]) -> str:
    shown = ", ".join(str(n) for n in numbers[:10])
    return shown + (f" and {len(numbers) - 10} more" if len(numbers) > 10 else "")


def missing_parts(media: Media) -> str:
    """For confirm: what is still to do, in a sentence."""
    count = part_count(media)
    stored = {part.number for part in _stored(media)}
    missing = [n for n in range(1, count + 1) if n not in stored]
    if missing:
        return f"Parts {_numbers(missing)} of {count} are not uploaded yet; upload them, complete, then confirm."
    return f"All {count} parts are uploaded, but the upload is not completed yet; complete it, then confirm."


def multipart_complete(*, media: Media, parts: list[tuple[int, str]]) -> Media:
    """Join the parts into temp/<id> once each is there, with the client's ETag and the right size.
    A repeated complete of a finished upload answers the same."""
    media = _pending(media)
    if not media.upload_id and media.part_size:
        info = storage.head(media.temp_key)
        if info is not None and info.size == media.size:
            return media
    media = _open_upload(media)
    count = part_count(media)
    given = dict(parts)
    unlisted = [n for n in range(1, count + 1) if n not in given]
    if unlisted or len(given) != count:
        raise conflict(
            ErrorCode.PART_MISSING, f"The upload has parts 1 to {count}; the list lacks {_numbers(unlisted)}."
        )
    stored = {part.number: part for part in _stored(media) if part.number <= count}
    missing = [n for n in range(1, count + 1) if n not in stored]
    if missing:
        raise conflict(ErrorCode.PART_MISSING, f"Parts {_numbers(missing)} of {count} are not in storage; upload them.")
    wrong_etag = [n for n in range(1, count + 1) if given[n].strip('"') != stored[n].etag.strip('"')]
    if wrong_etag:
        raise conflict(
            ErrorCode.ETAG_MISMATCH, f"Parts {_numbers(wrong_etag)} have another ETag in storage; upload them again."
        )
    wrong_size = [n for n in range(1, count + 1) if stored[n].size != part_length(media, n)]
    if wrong_size:
        raise conflict(
            ErrorCode.PART_SIZE_MISMATCH,
            f"Parts {_numbers(wrong_size)} do not have the expected size (each part {media.part_size:,} bytes but "
            f"the last, {media.size:,} in all); upload them again.",
        )
    with contextlib.suppress(storage.NoSuchUpload):  # a concurrent complete won: the object is there
        storage.multipart_complete(media.temp_key, media.upload_id, [stored[n] for n in range(1, count + 1)])
    Media.objects.filter(pk=media.id, upload_id=media.upload_id).update(upload_id="")
    media.upload_id = ""
    return media
