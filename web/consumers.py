"""Live progress over a WebSocket at /ws/media/.

Authentication is the DRF token in `?token=` or the session cookie
(`web.ws_auth`). An anonymous connection is accepted and closed at once with
code 4401, so a browser sees the code (a close before the accept would reach
it as a bare HTTP 403), before the channel layer is involved. Each connection
joins its owner's group only; the group name never comes from the client.

Server to client, one JSON object per message:

- `{"event": "progress:<id>", "id", "kind", "status", "progress", "stage",
  "thumbnail_url"[, "error"][, "queue_position", "eta_seconds"]}`: the
  contract's event (`media.events.event_for`). While a media waits in its
  queue, this connection also sends it with `queue_position` (1 = next to be
  taken) and `eta_seconds` (null when no estimate), whenever the position
  changes or the estimate moves by ESTIMATE_STEP seconds or more.
- `{"event": "sync:done", "ids": [...]}`: the end of a catch-up.
- `{"event": "error", "code", "message"}`: a message the consumer could not use.

Client to server:

- `{"action": "sync"}`: the catch-up. The answer is one progress event per
  unfinished (PENDING or PROCESSING) media of the user, newest first and at
  most SYNC_LIMIT, each with its queue placement when it waits in a queue,
  then `sync:done` listing their ids. A media the client shows as unfinished
  but that is not listed has finished meanwhile: read it with GET.

If Redis (the channel layer) is down at the handshake, or goes away later, the connection is accepted
if it was not yet and closed with 1013 (try again later): the client reconnects with backoff and
catches up with `sync`. Never a 500.

A connection whose credential is revoked (user deactivated or deleted, token
deleted, session ended) is closed with 4401: at once on the revoking signal,
and at the latest after WS_AUTH_RECHECK_SECONDS.

Per connection the events pass a filter, so a late copy never moves a
client backwards: progress only rises within PROCESSING, and nothing follows
READY, REJECTED or EXPIRED.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import OrderedDict
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from redis.exceptions import RedisError

from media import events, queue_status
from media.events import event_for, group_name, token_digest
from media.models import TERMINAL, Media, Status
from processing.codes import ErrorCode
from web import ws_auth

log = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_TRY_AGAIN_LATER = 1013  # RFC 6455's code for a server that is temporarily unable to serve
# What the channel layer raises when its Redis is away (refused, reset, timing out).
LAYER_OUTAGE = (RedisError, OSError, asyncio.TimeoutError)
SYNC_LIMIT = 100
SYNC_MIN_INTERVAL = 1.0  # seconds between two catch-ups of one connection
QUEUE_REFRESH_SECONDS = 2.0
FIRST_REFRESH_DELAY = 0.3  # the "queued" event is published just before the job is pushed
ESTIMATE_STEP = 5  # seconds an estimate must move before it is sent again
MAX_WATCHED = 200  # waiting media one connection follows
GROUP_REFRESH_SECONDS = 3600.0  # channels-redis forgets group members after a day


def read(function: Any) -> Any:
    """Run a read-only query in the thread pool: channels would otherwise run every connection's
    database work on one shared thread, and these run every couple of seconds per waiting upload."""
    return database_sync_to_async(function, thread_sensitive=False)


class EventFilter:
    """The last state this connection sent per media; refuses events older than it."""

    def __init__(self, size: int = 1000) -> None:
        self._seen: OrderedDict[str, tuple[str, int]] = OrderedDict()
        self._size = size

    def admit(self, event: dict[str, Any]) -> bool:
        media_id, status, progress = event["id"], event["status"], int(event.get("progress") or 0)
        last = self._seen.get(media_id)
        if last is not None:
            last_status, last_progress = last
            if last_status in TERMINAL:
                return False
            if last_status == Status.PROCESSING and status == Status.PENDING:
                return False
            if last_status == status == Status.PROCESSING and progress < last_progress:
                return False
        self._seen[media_id] = (status, progress)
        self._seen.move_to_end(media_id)
        while len(self._seen) > self._size:
            self._seen.popitem(last=False)
        return True


def _unfinished_events(user_id: int) -> list[dict[str, Any]]:
    unfinished = Media.objects.filter(owner_id=user_id, status__in=(Status.PENDING, Status.PROCESSING))
    media = list(unfinished.order_by("-created_at")[:SYNC_LIMIT])
    try:
        placed = queue_status.placements(media)
    except Exception:  # Redis down: the states are still worth sending
        log.warning("queue placement unavailable during sync", exc_info=True)
        placed = {}
    return [event_for(m, **(placed[str(m.id)].as_event() if str(m.id) in placed else {})) for m in media]


def _waiting_events(user_id: int, ids: set[str]) -> tuple[set[str], list[dict[str, Any]]]:
    """Of these media, the ones still waiting in a queue, and an event for each one that has a place."""
    media = [
        m
        for m in Media.objects.filter(owner_id=user_id, pk__in=list(ids))
        if m.status == Status.PROCESSING and m.stage == queue_status.QUEUED_STAGE
    ]
    placed = queue_status.placements(media)
    events = [event_for(m, **placed[str(m.id)].as_event()) for m in media if str(m.id) in placed]
    return {str(m.id) for m in media}, events


_epoch: tuple[float, str | None] = (0.0, None)  # (when asked, answer): shared by the process's sockets


async def layer_epoch(*, fresh: bool = False) -> str | None:
    """The channel layer Redis's run id (None while it is down), asked at most once a second per process
    unless `fresh`."""
    global _epoch
    asked, answer = _epoch
    if fresh or time.monotonic() - asked >= 1.0:
        try:
            answer = await asyncio.to_thread(events.layer_epoch)
        except RedisError:
            answer = None
        _epoch = (time.monotonic(), answer)
    return answer


async def refuse_unauthenticated(receive: Any, send: Any) -> None:
    """Accept and close with 4401 without touching the channel layer: anonymous clients cost no Redis."""
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.close", "code": CLOSE_UNAUTHENTICATED})


class MediaConsumer(AsyncJsonWebsocketConsumer):
    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        user = scope.get("user")
        if user is None or not user.is_authenticated:
            await refuse_unauthenticated(receive, send)
            return
        accepted = False

        async def tracked_send(message: dict[str, Any]) -> None:
            nonlocal accepted
            accepted = accepted or message["type"] == "websocket.accept"
            await send(message)

        try:
            await super().__call__(scope, receive, tracked_send)
        except LAYER_OUTAGE:
            log.warning("the channel layer failed; closing the WebSocket with %d", CLOSE_TRY_AGAIN_LATER, exc_info=True)
            with contextlib.suppress(Exception):  # the client may be gone already
                if not accepted:
                    await send({"type": "websocket.accept"})
                await send({"type": "websocket.close", "code": CLOSE_TRY_AGAIN_LATER})

    async def connect(self) -> None:
        self.user_id: int = self.scope["user"].pk
        self.filter = EventFilter()
        self.watched: set[str] = set()
        self.sent_placement: dict[str, tuple[int, int | None]] = {}
        self.last_sync = 0.0
        self.wake = asyncio.Event()
        # Join before accepting: a client that acts as soon as it is connected must not miss an event.
        await self.channel_layer.group_add(group_name(self.user_id), self.channel_name)
        self.groups = [group_name(self.user_id)]  # the base class leaves it on disconnect
        await self.accept()
        self.refresher = asyncio.create_task(self._refresh_placements())
        self.auth_watch = asyncio.create_task(self._recheck_credentials())
        self.layer_watch = asyncio.create_task(self._watch_layer(await layer_epoch(fresh=True)))

    async def disconnect(self, code: int) -> None:
        for task in (
            getattr(self, "refresher", None),
            getattr(self, "auth_watch", None),
            getattr(self, "layer_watch", None),
        ):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _recheck_credentials(self) -> None:
        """Revocations are announced (media/signals.py); this catches what is not, such as a logout."""
        while True:
            await asyncio.sleep(settings.WS_AUTH_RECHECK_SECONDS)
            try:
                valid = await ws_auth.still_valid(self.scope)
            except Exception:  # the database is away: keep the connection, ask again next time
                log.warning("could not recheck a WebSocket's credential", exc_info=True)
                continue
            if not valid:
                await self.close(code=CLOSE_UNAUTHENTICATED)
                return

    async def _watch_layer(self, epoch: str | None) -> None:
        """The pub/sub layer reconnects to Redis by itself, silently, and what was published meanwhile is
        lost: a Redis that is down, or came back as a new run, closes the connection with 1013, so the
        client reconnects and catches up with `sync`."""
        while True:
            await asyncio.sleep(settings.WS_LAYER_CHECK_SECONDS)
            now = await layer_epoch()
            if now is None or now != epoch:
                log.warning("the channel layer's Redis is away or restarted; closing the WebSocket with 1013")
                await self.close(code=CLOSE_TRY_AGAIN_LATER)
                return

    async def auth_revoked(self, message: dict[str, Any]) -> None:
        """The user was deactivated (no "token"), or one of their tokens deleted: close if it is ours."""
        token = self.scope.get("auth_token")
        if message.get("token") is None or (token and message["token"] == token_digest(token)):
            await self.close(code=CLOSE_UNAUTHENTICATED)

    # --- from the owner's group ---------------------------------------------------

    async def media_event(self, message: dict[str, Any]) -> None:
        await self._send_event(message["event"])

    # --- from the client --------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        try:
            content = json.loads(text_data or "")
        except ValueError:
            content = None
        if not isinstance(content, dict) or content.get("action") != "sync":
            await self.send_json(
                {"event": "error", "code": ErrorCode.UNKNOWN_ACTION, "message": 'Send {"action": "sync"}.'}
            )
            return
        await self._catch_up()

    async def _catch_up(self) -> None:
        now = time.monotonic()
        if now - self.last_sync < SYNC_MIN_INTERVAL:
            await self.send_json({"event": "error", "code": "throttled", "message": "One catch-up per second."})
            return
        self.last_sync = now
        events = await read(_unfinished_events)(self.user_id)
        for event in events:
            await self._send_event(event)
        await self.send_json({"event": "sync:done", "ids": [event["id"] for event in events]})

    # --- sending ------------------------------------------------------------------

    async def _send_event(self, event: dict[str, Any]) -> None:
        if not self.filter.admit(event):
            return
        media_id = event["id"]
        if event["status"] == Status.PROCESSING and event.get("stage") == queue_status.QUEUED_STAGE:
            if media_id not in self.watched and len(self.watched) < MAX_WATCHED:
                self.watched.add(media_id)
                self.wake.set()
        else:
            self.watched.discard(media_id)
            self.sent_placement.pop(media_id, None)
        if "queue_position" in event:
            self.sent_placement[media_id] = (event["queue_position"], event.get("eta_seconds"))
        await self.send_json(event)

    def _placement_changed(self, event: dict[str, Any]) -> bool:
        last = self.sent_placement.get(event["id"])
        if last is None:
            return True
        position, eta = last
        new_eta = event.get("eta_seconds")
        if event["queue_position"] != position or (eta is None) != (new_eta is None):
            return True
        return eta is not None and new_eta is not None and abs(new_eta - eta) >= ESTIMATE_STEP

    async def _refresh_placements(self) -> None:
        """While this connection watches media waiting in a queue, send their placement every couple of
        seconds when it changed. Idle connections cost nothing but a group refresh once an hour."""
        next_group_refresh = time.monotonic() + GROUP_REFRESH_SECONDS
        while True:
            if time.monotonic() >= next_group_refresh:
                await self.channel_layer.group_add(group_name(self.user_id), self.channel_name)
                next_group_refresh = time.monotonic() + GROUP_REFRESH_SECONDS
            if not self.watched:
                self.wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), timeout=GROUP_REFRESH_SECONDS)
                await asyncio.sleep(FIRST_REFRESH_DELAY)
                continue
            queried = set(self.watched)
            try:
                still, events = await read(_waiting_events)(self.user_id, queried)
            except Exception:
                log.warning("could not refresh queue placements", exc_info=True)
                await asyncio.sleep(QUEUE_REFRESH_SECONDS * 5)
                continue
            for event in events:
                # a live event may have moved the media on while we read: the filter and the watch say so
                if event["id"] in self.watched and self._placement_changed(event):
                    await self._send_event(event)
            self.watched -= queried - still  # picked up by a worker, finished or deleted
            await asyncio.sleep(QUEUE_REFRESH_SECONDS)
