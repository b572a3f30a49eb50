"""The endings of a media's processing with their storage effects, each in one place.

`lifecycle` makes the guarded status change; an action here makes it and does
what goes with it in storage (`moves`): rejected media lose every byte but a
quarantined one, expired media their temp/ object, purged media everything,
and a media deleted while a run worked on it loses what that run wrote. The
FAILED message is worded here too, the same for every way of failing.
"""

from __future__ import annotations

import logging

from media import lifecycle, moves, storage, temp_sweep
from media.models import Media
from processing.codes import ErrorCode
from processing.errors import Rejected

log = logging.getLogger(__name__)


def media_reject(*, media: Media, exc: Rejected) -> None:
    """The final REJECTED: malware is kept in quarantine/, every other byte of the media is removed."""
    fields = {}
    if exc.code == ErrorCode.MALWARE_DETECTED:
        fields["quarantine_key"] = moves.quarantine(media)
    if lifecycle.mark_rejected(media.id, code=exc.code, message=exc.message, detail=exc.detail, **fields):
        moves.discard(media)
        temp_sweep.schedule(media)
    else:
        drop_if_deleted(media=media)  # the quarantined copy would belong to nobody
    log.info("media %s rejected: %s (%s)", media.id, exc.code, exc.detail[:200])


def media_fail(*, media_id: object, reason: str = "", detail: str = "", retried: bool = True) -> Media | None:
    """FAILED, for an operator to retry, with one sentence that says why (`reason`, a full sentence)."""
    how = "after several attempts" if retried else "and was not retried"
    if reason:
        message = f"Processing failed {how}. {reason.strip().rstrip('.')}. An operator can retry it."
    else:
        message = f"Processing failed {how}; an operator can retry it."
    return lifecycle.mark_failed(media_id, code=ErrorCode.PROCESSING_FAILED, message=message, detail=detail)


def media_expire(*, media: Media) -> bool:
    """EXPIRED, and whatever reached temp/ deleted; False when a confirm won the race (it keeps its upload)."""
    if lifecycle.mark_expired(media.id) is None:
        return False
    storage.delete([media.temp_key])
    return True


def media_purge(*, media: Media) -> None:
    """Retention's end of a REJECTED or EXPIRED media: every object it kept, then the row."""
    moves.remove_all(media)
    media.delete()


def drop_if_deleted(*, media: Media) -> bool:
    """A run whose media was deleted meanwhile removes what it wrote (the delete's sweep may have come
    before). True when it was gone."""
    if Media.objects.filter(pk=media.id).exists():
        return False
    moves.remove_all(media)
    return True
