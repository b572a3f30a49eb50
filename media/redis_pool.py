"""One Redis connection pool per URL for the whole process, shared by the cache, the job queues and events.

Under ASGI, Django builds its cache objects anew for every request (the handler keeps them per request
context), each with a connection pool of its own; django_rq builds a client on every `get_queue`. So a
request opened a new TCP connection to Redis for the throttle and another to queue a job: connects and
disconnects in every profile of the web process under load (bench/load.py).
"""

from __future__ import annotations

import threading
from typing import Any

import redis
from django.conf import settings

_pools: dict[tuple[str, str], redis.ConnectionPool] = {}
_lock = threading.Lock()


class SharedConnectionPool(redis.ConnectionPool):
    """A pool class for Django's RedisCache OPTIONS["pool_class"]: `from_url` hands out the process's one
    pool for the URL and options instead of a new one."""

    @classmethod
    def from_url(cls, url: str, **options: Any) -> redis.ConnectionPool:
        key = (url, repr(sorted(options.items())))
        with _lock:
            if key not in _pools:
                _pools[key] = super().from_url(url, **options)
            return _pools[key]


def client(url: str | None = None) -> redis.Redis:
    """A client on the process's pool for REDIS_URL (or `url`): clients are cheap, connections are not.
    A request never hangs on a Redis that stopped answering: it fails (503 by the API's handler)."""
    pool = SharedConnectionPool.from_url(url or settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=2)
    return redis.Redis(connection_pool=pool)
