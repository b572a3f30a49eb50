"""Progress events, sent to the owner's Channels group (delivered by the WebSocket consumer)."""

from __future__ import annotations

import hashlib
import logging
from typing import Any

import redis
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels_redis.pubsub import RedisPubSubChannelLayer
from django.conf import settings

from media import figures, outputs, redis_pool, selectors, storage
from media.models import Media, Status

log = logging.getLogger(__name__)


def group_name(user_id: int) -> str:
    return f"media.user.{user_id}"


def token_digest(key: str) -> str:
    """How a token is named in channel-layer messages (media/signals.py): never the credential itself."""
    return hashlib.sha256(key.encode()).hexdigest()


def event_for(media: Media, **extra: Any) -> dict[str, Any]:
    """The contract's event for a media's current state; `extra` adds fields such as queue position."""
    # only kinds that declare a thumbnail have one to look up (a text document's event costs no query)
    has_thumbnail = any(output.name == "thumbnail" for output in outputs.of_kind(media.kind))
    thumbnail_key = selectors.output_key(media, "thumbnail") if has_thumbnail else None
    thumbnail_url = storage.presigned_get(thumbnail_key) if thumbnail_key else None
    hls_url = selectors.hls_url(media)  # set once a video plays, before READY too: the signed master playlist
    event: dict[str, Any] = {
        "event": f"progress:{media.id}",
        "id": str(media.id),
        "kind": media.kind,
        "status": media.status,
        "progress": media.progress,
        "stage": media.stage,
        "thumbnail_url": thumbnail_url,
        "playable": hls_url is not None,
        "hls_url": hls_url,
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
    message = {"type": "media.event", "event": event_for(media, **extra)}
    try:
        _group_send(layer, group_name(media.owner_id), message)
        figures.count_event()
    except Exception:
        log.warning("could not publish the event of media %s", media.id, exc_info=True)


def _group_send(layer: Any, group: str, message: dict[str, Any]) -> None:
    """On the Redis pub/sub layer (settings.CHANNEL_LAYERS), one PUBLISH on a pooled connection of this
    process: what the layer's own group_send does, without an event loop to hop to from a request
    thread or a worker (async_to_sync there built a loop, and so a new Redis connection, per event)."""
    config = settings.CHANNEL_LAYERS["default"]["CONFIG"]
    if isinstance(layer, RedisPubSubChannelLayer) and len(config["hosts"]) == 1:
        # the layer's name for a group's channel (RedisPubSubLoopLayer._get_group_channel_name);
        # tests/test_events.py checks that a consumer subscribed through the layer receives it
        channel = f"{config['prefix']}__group__{group}"
        layer_redis().publish(channel, layer.serialize(message))
    else:
        async_to_sync(layer.group_send)(group, message)


def layer_redis() -> redis.Redis:
    """A client on the channel layer's Redis (its one host), on this process's pool."""
    host = settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0]
    return redis_pool.client(host["address"] if isinstance(host, dict) else host)


def layer_epoch() -> str:
    """The run id of the channel layer's Redis: a new one after every restart. RedisError while it is down."""
    return str(layer_redis().info("server")["run_id"])
