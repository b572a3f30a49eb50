"""Figures /metrics exports without computing them at scrape time, kept in Redis (shared by every process):
what each scheduled cleanup did on its last run, the orphan survey's counts, and events published.

Writing a figure never raises: losing one must not fail the cleanup or the event that counts it.
"""

from __future__ import annotations

import contextlib
import logging
import time
from functools import lru_cache

import django_rq
from django.conf import settings
from redis import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

FIGURES_KEY = "mediahub:figures"  # hash: figure name -> number
EVENTS_KEY = "mediahub:events-published"  # a counter since Redis last lost its data
CLEANUP_PREFIX = "cleanup:"  # cleanup:<task>:last_run (timestamp) and cleanup:<task>:<action> (items)
ORPHAN_PREFIX = "orphans:"  # orphans:<area>:objects and orphans:<area>:bytes


@lru_cache(maxsize=1)
def _redis() -> Redis:  # one client per process: django_rq builds a new pool on every call
    return django_rq.get_connection(next(iter(settings.RQ_QUEUES)))


def _save(values: dict[str, float], *, clear_prefix: str = "") -> None:
    try:
        redis = _redis()
        with redis.pipeline() as pipe:
            if clear_prefix:  # a figure absent from this run is 0 now, not its last value
                stale = [name for name in redis.hkeys(FIGURES_KEY) if name.decode().startswith(clear_prefix)]
                if stale:
                    pipe.hdel(FIGURES_KEY, *stale)
            pipe.hset(FIGURES_KEY, mapping=values)
            pipe.execute()
    except RedisError:
        log.warning("could not record figures %s", sorted(values), exc_info=True)


def record_cleanup(task: str, counts: dict[str, int]) -> None:
    prefix = f"{CLEANUP_PREFIX}{task}:"
    values = {f"{prefix}last_run": time.time(), **{prefix + action: n for action, n in counts.items()}}
    _save(values, clear_prefix=prefix)


def record_orphans(found: dict[str, tuple[int, int]]) -> None:
    """Objects and bytes per storage area that no media row stands behind."""
    values: dict[str, float] = {}
    for area, (objects, size) in found.items():
        values[f"{ORPHAN_PREFIX}{area}:objects"] = objects
        values[f"{ORPHAN_PREFIX}{area}:bytes"] = size
    _save(values)


def count_event() -> None:
    with contextlib.suppress(RedisError):  # the event itself went out; a missed count is harmless
        _redis().incr(EVENTS_KEY)


def read() -> tuple[dict[str, float], int]:
    """(every recorded figure, events published). Raises RedisError."""
    redis = _redis()
    with redis.pipeline(transaction=False) as pipe:
        pipe.hgetall(FIGURES_KEY)
        pipe.get(EVENTS_KEY)
        figures, events = pipe.execute()
    return {name.decode(): float(value) for name, value in figures.items()}, int(events or 0)
