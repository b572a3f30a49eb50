"""Progress events, sent to the owner's Channels group (delivered by the WebSocket consumer)."""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from media import selectors, storage
from media.models import Media, Status

log = logging.getLogger(__name__)


def group_name(user_id: int) -> str:
    return f"media.user.{user_id}"


def token_digest(key: str) -> str:
    """How a token is named in channel-layer messages (media/signals.py): never the credential itself."""
    return hashlib.sha256(key.encode()).hexdigest()


def event_for(media: Media, **extra: Any) -> dict[str, Any]:
    """The contract's event for a media's current state; `extra` adds fields such as queue position."""
    thumbnail_key = selectors.output_key(media, "thumbnail")
    thumbnail_url = storage.presigned_get(thumbnail_key) if thumbnail_key else None
    event: dict[str, Any] = {
        "event": f"progress:{media.id}",
        "id": str(media.id),
        "kind": media.kind,
        "status": media.status,
        "progress": media.progress,
        "stage": media.stage,
        "thumbnail_url": thumbnail_url,
        # a video plays before READY once its first segments are out: the signed master playlist
        "playable": selectors.playable(media),
        "hls_url": selectors.hls_url(media),
    }
    if media.status in (Status.REJECTED, Status.FAILED) and media.error:
        event["error"] = media.error
    event.update(extra)
    return event


def publish(media: Media, **extra: Any) -> None:
    """Send the media's event to its owner. Never raises: a lost event must not undo a state change,
    and a client that reconnects reads the current state anyway."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(
            group_name(media.owner_id), {"type": "media.event", "event": event_for(media, **extra)}
        )
    except Exception:
        log.warning("could not publish the event of media %s", media.id, exc_info=True)
