"""The upload service: every write the API, admin and commands make to a media goes through here.

Functions are named <thing>_<action>, take keyword arguments, and check the
current state first (the lifecycle's conditional update is the guard), so a
second call answers the current state and changes nothing.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import django_rq
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from redis.exceptions import RedisError
from rq import Retry
from tenacity import Retrying, retry_if_result, stop_after_attempt, stop_after_delay, wait_exponential

from media import dependencies, jobs, lifecycle, moves, storage
from media import multipart as multipart_uploads
from media.errors import UploadError
from media.models import Kind, Media, Status
from processing.codes import ErrorCode

log = logging.getLogger(__name__)

INLINE_KINDS = {Kind.AUDIO, Kind.DOCUMENT}


def kind_for(content_type: str) -> str | None:
    content_type = content_type.split(";")[0].strip().lower()
    for kind, rules in settings.MEDIA_KINDS.items():
        if content_type in rules["types"]:
            return kind
    return None


# Format characters (Unicode category Cf) are invisible; the bidirectional ones reorder what a
# user sees ("invoice\u202etxt.exe" shows as "invoiceexe.txt"). All go, except the two joiners that
# Persian, Indic scripts and emoji sequences need to spell a name at all.
_KEEP_FORMAT = {"\u200c", "\u200d"}  # zero-width non-joiner, zero-width joiner
_DROP_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn"}  # control, format, surrogate, private use, unassigned


def clean_filename(raw: str) -> str:
    """A display name: no path parts, no control or invisible format characters, at most
    MAX_FILENAME_LENGTH characters (the extension kept). Unicode names survive. Empty when nothing
    usable is left."""
    name = unicodedata.normalize("NFC", raw)
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(ch for ch in name if ch in _KEEP_FORMAT or unicodedata.category(ch) not in _DROP_CATEGORIES)
    name = name.strip().strip(".").strip()
    if not name.strip("".join(_KEEP_FORMAT)):
        return ""  # joiners alone are an invisible name
    limit = settings.MAX_FILENAME_LENGTH
    if len(name) > limit:
        stem, dot, ext = name.rpartition(".")
        if dot and stem and 0 < len(ext) <= 16:
            name = stem[: limit - len(ext) - 1].rstrip() + "." + ext
        else:
            name = name[:limit].rstrip()
    return name


def media_create(
    *,
    owner: AbstractBaseUser,
    filename: str,
    content_type: str,
    size: int,
    checksum_sha256: str = "",
    multipart: bool | None = None,
) -> tuple[Media, dict[str, Any]]:
    """A PENDING media and its upload: a presigned PUT, or a multipart upload for big files."""
    kind = kind_for(content_type)
    if kind is None:
        raise UploadError(
            ErrorCode.UNSUPPORTED_TYPE, f"Files of type {content_type!r} are not accepted.", "content_type"
        )
    name = clean_filename(filename)
    if not name:
        raise UploadError(
            ErrorCode.INVALID_FILENAME,
            "The file name is empty once path parts and control characters are removed.",
            "filename",
        )
    limit = settings.MEDIA_KINDS[kind]["max_size"]
    if size < 1:
        raise UploadError(ErrorCode.EMPTY_FILE, "The file is empty.", "size")
    if size > limit:
        raise UploadError(ErrorCode.TOO_LARGE, f"{kind.capitalize()} files may be at most {limit:,} bytes.", "size")
    use_multipart = multipart_uploads.wants_multipart(size=size, asked=multipart, checksum_sha256=checksum_sha256)
    fields = {
        "owner": owner,
        "kind": kind,
        "filename": name,
        "content_type": content_type.split(";")[0].strip().lower(),
        "size": size,
        "checksum_sha256": checksum_sha256.lower(),
    }
    if not use_multipart:  # one insert, then a URL signed without a word to the store or the database
        media = Media.objects.create(**fields)
        return media, multipart_uploads.upload_start(media, multipart=False)
    with transaction.atomic():  # a store that cannot start a multipart upload leaves no media behind
        media = Media.objects.create(**fields)
        return media, multipart_uploads.upload_start(media, multipart=True)


@dataclass(frozen=True)
class Confirmation:
    media: Media
    error: UploadError | None = None
    unavailable: bool = False  # a service is down: the media waits and resumes on its own


def _uploaded(media: Media) -> storage.ObjectInfo | None:
    """HEAD the temp object, retrying with backoff: a store may show a new object a moment late."""
    retrying = Retrying(
        retry=retry_if_result(lambda info: info is None),
        stop=stop_after_attempt(settings.CONFIRM_HEAD_ATTEMPTS) | stop_after_delay(settings.CONFIRM_HEAD_MAX_WAIT),
        wait=wait_exponential(multiplier=0.1, max=1.0),
        retry_error_callback=lambda state: None,
        reraise=True,
    )
    return retrying(storage.head, media.temp_key)


def media_confirm(*, media: Media) -> Confirmation:
    """The client says the upload is done. Starts processing exactly once, whoever calls how often."""
    if media.status != Status.PENDING:
        return Confirmation(media)
    if media.upload_id:  # a multipart upload not completed yet: say what is missing
        try:
            message = multipart_uploads.missing_parts(media)
        except UploadError as exc:
            message = exc.message
        return Confirmation(media, UploadError(ErrorCode.UPLOAD_INCOMPLETE, message))
    info = _uploaded(media)
    if info is None:
        lifecycle.note_problem(
            media.id, code=ErrorCode.UPLOAD_MISSING, message="The file has not arrived in storage yet."
        )
        media.refresh_from_db()
        if media.status != Status.PENDING:  # another confirm got there first
            return Confirmation(media)
        return Confirmation(
            media,
            UploadError(
                ErrorCode.UPLOAD_MISSING,
                "The file has not arrived in storage; upload it, then confirm again "
                "(POST /api/media/<id>/upload/ gives a fresh upload if yours expired).",
            ),
        )
    if info.size != media.size:
        message = f"The uploaded file has {info.size:,} bytes, not the {media.size:,} declared."
        rejected = lifecycle.mark_rejected(media.id, code=ErrorCode.SIZE_MISMATCH, message=message)
        if rejected is None:
            media.refresh_from_db()
            return Confirmation(media)
        storage.delete([media.temp_key])
        return Confirmation(rejected, UploadError(ErrorCode.SIZE_MISMATCH, message))
    if media.kind not in INLINE_KINDS:
        with transaction.atomic():  # the job is queued once the claim is committed
            claimed = lifecycle.start_processing(media.id)
            if claimed is not None:
                jobs.enqueue(claimed)
                return Confirmation(claimed)
    else:  # checked right here: one conditional update claims it and starts the run, no transaction around it
        claimed = lifecycle.start_processing(media.id, attempt=True)
    if claimed is None:
        media.refresh_from_db()
        return Confirmation(media)
    try:
        jobs.run_inline(claimed)
    except Exception as exc:
        if (dependency := dependencies.waiting_on(exc)) is not None:  # a retry is queued; it waits for that
            dependencies.wait_for(media.id, dependency, exc)
            return Confirmation(
                Media.objects.get(pk=media.id), UploadError(dependency.code, dependency.message), unavailable=True
            )
        log.warning("inline processing of media %s failed; queued for retry", media.id, exc_info=True)
        lifecycle.note_problem(media.id, code=ErrorCode.TEMPORARILY_UNAVAILABLE, message="Waiting to be checked again.")
        return Confirmation(
            Media.objects.get(pk=media.id),
            UploadError(
                ErrorCode.TEMPORARILY_UNAVAILABLE,
                "The file could not be checked right now; it will be retried shortly.",
            ),
            unavailable=True,
        )
    return Confirmation(Media.objects.get(pk=media.id))


def media_retry(*, media: Media) -> Media | None:
    """A retry of a FAILED media, or of one stuck in PROCESSING (no progress for STUCK_PROCESSING_MINUTES):
    its job, whatever state it is in, is replaced by a new one. None when the media is neither."""
    with transaction.atomic():
        claimed = lifecycle.start_processing(media.id, sources=(Status.FAILED,))
        if claimed is not None:
            jobs.enqueue(claimed)
            return claimed
    stuck_since = timezone.now() - timedelta(minutes=settings.STUCK_PROCESSING_MINUTES)
    if (claimed := lifecycle.claim_stuck(media.id, stuck_since=stuck_since)) is not None:
        jobs.requeue_orphan(claimed.id, claimed.kind)
    return claimed


def media_delete(*, media: Media) -> None:
    """Remove every stored object of the media, then the row. If the store fails, the row stays and
    the delete can be repeated. A job still running stops at its next step and removes what it wrote;
    the second sweep catches a job that finished between the first sweep and the row's deletion."""
    jobs.cancel(media.id, media.kind)
    if media.upload_id:
        storage.multipart_abort(media.temp_key, media.upload_id)
    moves.remove_all(media)
    Media.objects.filter(pk=media.id).delete()
    moves.remove_all(media)


OwnedMedia = tuple[str, str, str]  # (media id, kind, multipart upload id): all that is left once the row is gone


def owner_media_forget(*, owner: AbstractBaseUser) -> None:
    """Called as a user is deleted (their media rows go with them, by cascade): once the deletion commits,
    every stored object of their media goes too, with their quarantined files. Up to USER_PURGE_BATCH
    media inline; a larger account in background jobs of that many media each."""
    owned: list[OwnedMedia] = [
        (str(pk), kind, upload_id)
        for pk, kind, upload_id in Media.objects.filter(owner=owner).values_list("pk", "kind", "upload_id")
    ]
    if owned:
        transaction.on_commit(lambda: _owner_media_remove_later(owned))


def _owner_media_remove_later(owned: list[OwnedMedia]) -> None:
    batch = settings.USER_PURGE_BATCH
    if len(owned) <= batch:
        try:
            owned_media_remove(owned=owned)
            return
        except Exception:  # the user is already gone: a job retries what the store refused now
            log.warning("could not remove the objects of a deleted user's media; queued instead", exc_info=True)
    queue = django_rq.get_queue("default", commit_mode="auto")
    for start in range(0, len(owned), batch):
        part = owned[start : start + batch]
        try:
            queue.enqueue(
                owned_media_remove,
                owned=part,
                retry=Retry(max=settings.JOB_MAX_RETRIES, interval=settings.JOB_RETRY_INTERVALS),
                description=f"remove the objects of {len(part)} media of a deleted user",
            )
        except RedisError:
            log.warning("Redis does not answer: removing the objects of %d media inline", len(part))
            try:
                owned_media_remove(owned=part)
            except Exception:  # nothing more to try now: `manage.py purge_orphans` finds them later
                log.error("could not remove the objects of %d media of a deleted user", len(part), exc_info=True)


def owned_media_remove(*, owned: list[OwnedMedia]) -> int:
    """The objects of media whose rows are gone: their waiting jobs dropped (a running one stops at its next
    step and removes what it wrote), multipart uploads aborted, then every object. Safe to run twice; an
    RQ job for large accounts. Returns how many media it cleared."""
    for media_id, kind, upload_id in owned:
        jobs.cancel(media_id, kind)
        gone = Media(id=media_id, kind=kind)
        if upload_id:
            storage.multipart_abort(gone.temp_key, upload_id)
        moves.remove_all(gone)
    return len(owned)
