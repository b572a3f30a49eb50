"""Small helpers shared by the tests."""

from __future__ import annotations

import requests


def put_upload(upload: dict, body: bytes) -> requests.Response:
    """PUT the bytes as a client would: the returned URL and headers, nothing else."""
    return requests.put(upload["url"], data=body, headers=upload["headers"], timeout=30)


def stored_keys(prefix: str = "") -> list[str]:
    from media import storage

    return storage.list_keys(prefix)
