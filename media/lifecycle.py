"""Every change of a media's status happens here, as a conditional update.

`filter(pk=..., status__in=sources).update(...)` is the guard: of two confirms,
two workers or a worker and a moderator racing on one row, exactly one update
matches and wins; the others change nothing and learn it from the return value.
The winner publishes the event once the change is committed.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from media import events, outputs
from media.models import Media, MediaOutput, Status
from processing.codes import ErrorCode, Stage

# The allowed moves: PENDING -> PROCESSING -> READY, with the exits of the contract.
ALLOWED: dict[Status, frozenset[Status]] = {
    Status.PENDING: frozenset({Status.PROCESSING, Status.REJECTED, Status.EXPIRED}),
    Status.PROCESSING: frozenset({Status.READY, Status.REJECTED, Status.FAILED}),
    Status.FAILED: frozenset({Status.PROCESSING}),  # an operator's retry
    Status.READY: frozenset(),
    Status.REJECTED: frozenset(),
    Status.EXPIRED: frozenset(),
}


class TransitionNotAllowed(Exception):
    """A caller asked for a move the lifecycle never allows: a bug, not a race."""


def sources_of(target: Status) -> frozenset[Status]:
    return frozenset(s for s, targets in ALLOWED.items() if target in targets)


def transition(
    media_id: uuid.UUID | str,
    *,
    to: Status,
    sources: Iterable[Status] | None = None,
    **fields: Any,
) -> Media | None:
    """Move the media to `to` if it is in one of `sources` (default: every allowed source).

    Returns the updated row when this call won, None when the row was not in a
    source state (someone else got there first, or it is gone).
    """
    allowed = sources_of(to)
    wanted = frozenset(sources) if sources is not None else allowed
    if not wanted or not wanted <= allowed:
        raise TransitionNotAllowed(f"{sorted(wanted - allowed) or 'nothing'} -> {to} is not a lifecycle move")
    now = timezone.now()
    if to in (Status.READY, Status.REJECTED, Status.FAILED, Status.EXPIRED):
        fields.setdefault("finished_at", now)
    if to == Status.READY:
        fields.update(progress=100, stage=Stage.DONE, error_code="", error_message="", error_detail="")
    if to in (Status.REJECTED, Status.FAILED):
        fields["playable_at"] = None  # what was published early is no longer offered
    won = Media.objects.filter(pk=media_id, status__in=wanted).update(status=to, updated_at=now, **fields)
    if not won:
        return None
    media = Media.objects.get(pk=media_id)
    transaction.on_commit(lambda: events.publish(media))
    return media


def start_processing(
    media_id: uuid.UUID | str, *, sources: Iterable[Status] = (Status.PENDING,), attempt: bool = False
) -> Media | None:
    """Claim the media for processing (confirm, or an operator's retry of a FAILED one). With `attempt`,
    the run starts right here (the inline path): it is counted in the same update, like `begin_attempt`."""
    sources = frozenset(sources)
    fields: dict[str, Any] = {"confirmed_at": timezone.now()} if sources == {Status.PENDING} else {}
    if attempt:
        fields.update(attempts=F("attempts") + 1, processing_started_at=timezone.now())
    return transition(
        media_id,
        to=Status.PROCESSING,
        sources=sources,
        progress=0,
        stage=Stage.QUEUED,
        error_code="",
        error_message="",
        error_detail="",
        finished_at=None,
        **fields,
    )


def mark_ready(media_id: uuid.UUID | str, *, outputs: Mapping[str, str] | None = None, **fields: Any) -> Media | None:
    """READY with the outputs made (name -> storage key), in one transaction."""
    if not outputs:  # one conditional update: nothing to keep together with it
        return transition(media_id, to=Status.READY, **fields)
    with transaction.atomic():
        media = transition(media_id, to=Status.READY, **fields)
        if media is not None:
            _record(media, outputs)
    return media


def add_outputs(media_id: uuid.UUID | str, outputs: Mapping[str, str]) -> Media | None:
    """Record outputs made later for a READY media (declared after it was processed). None when it is
    no longer READY (deleted meanwhile): the row lock keeps a delete from slipping in between."""
    with transaction.atomic():
        media = Media.objects.select_for_update().filter(pk=media_id, status=Status.READY).first()
        if media is not None:
            _record(media, outputs)
            transaction.on_commit(lambda: events.publish(media))
    return media


def _record(media: Media, made: Mapping[str, str]) -> None:
    """A row per output made (name -> key), with the settings it was made under; a rebuilt one is updated."""
    specs = {output.name: output.spec() for output in outputs.of_kind(media.kind)}
    rows = [MediaOutput(media=media, name=name, key=key, spec=specs.get(name, "")) for name, key in made.items()]
    # the unique (media, name) pair makes a second run of the same job a no-op that keeps one row
    MediaOutput.objects.bulk_create(
        rows, update_conflicts=True, unique_fields=["media", "name"], update_fields=["key", "spec"]
    )


def mark_rejected(
    media_id: uuid.UUID | str, *, code: str, message: str, detail: str = "", **fields: Any
) -> Media | None:
    return transition(
        media_id,
        to=Status.REJECTED,
        error_code=code,
        error_message=message[:500],
        error_detail=detail,
        **fields,
    )


def mark_failed(media_id: uuid.UUID | str, *, code: str, message: str, detail: str = "") -> Media | None:
    return transition(media_id, to=Status.FAILED, error_code=code, error_message=message[:500], error_detail=detail)


def mark_expired(media_id: uuid.UUID | str) -> Media | None:
    return transition(
        media_id,
        to=Status.EXPIRED,
        error_code=ErrorCode.UPLOAD_MISSING,
        error_message="The file was not uploaded and confirmed in time.",
    )


def begin_attempt(media_id: uuid.UUID | str) -> Media | None:
    """A worker starts a run: count it. Returns None when the media is no longer PROCESSING,
    so a stale or duplicate job does nothing."""
    # A new run rewrites the early-published playlists from their start: they are not offered until it
    # publishes its own first segments (an EVENT playlist must never shrink under a player).
    was_playable = Media.objects.filter(pk=media_id, status=Status.PROCESSING, playable_at__isnull=False).exists()
    won = Media.objects.filter(pk=media_id, status=Status.PROCESSING).update(
        attempts=F("attempts") + 1, processing_started_at=timezone.now(), updated_at=timezone.now(), playable_at=None
    )
    if not won:
        return None
    media = Media.objects.get(pk=media_id)
    if was_playable:
        transaction.on_commit(lambda: events.publish(media))
    return media


def mark_playable(media_id: uuid.UUID | str, *, metadata: Mapping[str, Any]) -> Media | None:
    """A PROCESSING video's first segments are published: it plays before READY. `metadata` (the probe's)
    is shown meanwhile; READY replaces it with the full one. None when it is no longer PROCESSING."""
    won = Media.objects.filter(pk=media_id, status=Status.PROCESSING, playable_at__isnull=True).update(
        playable_at=timezone.now(), metadata=dict(metadata), updated_at=timezone.now()
    )
    if not won:
        return None
    media = Media.objects.get(pk=media_id)
    transaction.on_commit(lambda: events.publish(media))
    return media


def withdraw_playable(media_id: uuid.UUID | str) -> None:
    """A run that published early stopped half-way: its playlists will not grow, so they are not offered."""
    won = Media.objects.filter(pk=media_id, status=Status.PROCESSING, playable_at__isnull=False).update(
        playable_at=None, updated_at=timezone.now()
    )
    if won:
        media = Media.objects.get(pk=media_id)
        transaction.on_commit(lambda: events.publish(media))


def claim_stuck(media_id: uuid.UUID | str, *, stuck_since: datetime) -> Media | None:
    """Claim a PROCESSING media that has shown no progress since `stuck_since`, for a retry; the update
    of `updated_at` is the guard, so of two retries one wins. None when it is not stuck."""
    won = Media.objects.filter(pk=media_id, status=Status.PROCESSING, updated_at__lt=stuck_since).update(
        stage=Stage.QUEUED, error_code="", error_message="", error_detail="", updated_at=timezone.now()
    )
    if not won:
        return None
    media = Media.objects.get(pk=media_id)
    transaction.on_commit(lambda: events.publish(media))
    return media


def set_progress(media_id: uuid.UUID | str, progress: int, stage: str) -> bool:
    """Record a step of a PROCESSING media; progress never goes down. Returns False if it is not PROCESSING."""
    progress = max(0, min(99, int(progress)))  # 100 belongs to READY
    won = Media.objects.filter(pk=media_id, status=Status.PROCESSING, progress__lte=progress).update(
        progress=progress, stage=stage, updated_at=timezone.now()
    )
    if won:
        media = Media.objects.get(pk=media_id)
        transaction.on_commit(lambda: events.publish(media))
    return bool(won)


def is_processing(media_id: uuid.UUID | str) -> bool:
    return Media.objects.filter(pk=media_id, status=Status.PROCESSING).exists()


def note_problem(media_id: uuid.UUID | str, *, code: str, message: str) -> None:
    """Record a non-final problem (upload not there yet, scanner down) without changing the status."""
    Media.objects.filter(pk=media_id, status__in=(Status.PENDING, Status.PROCESSING)).update(
        error_code=code, error_message=message[:500], updated_at=timezone.now()
    )
