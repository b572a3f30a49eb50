"""The support module of the integration tests: the client's side of an upload step by step (create, PUT,
confirm), a burst worker, and what is stored."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import django_rq
import requests
from django.conf import settings
from rest_framework.response import Response
from rest_framework.test import APIClient
from rq import Queue, SimpleWorker
from rq.exceptions import NoSuchJobError
from rq.job import Job

from media import jobs
from media.models import Status
from tests.helpers import put_upload, stored_keys
from tests.samples import Sample

LIST_URL = "/api/media/"


def detail_url(media_id: str) -> str:
    return f"/api/media/{media_id}/"


def confirm_url(media_id: str) -> str:
    return f"/api/media/{media_id}/confirm/"


def retry_url(media_id: str) -> str:
    return f"/api/media/{media_id}/retry/"


def action_url(media_id: str, action: str) -> str:
    """upload/, parts/, complete/ of a media."""
    return f"/api/media/{media_id}/{action}/"


def create(api: APIClient, *, filename: str, content_type: str, size: int, **extra: Any) -> Response:
    return api.post(
        LIST_URL, {"filename": filename, "content_type": content_type, "size": size, **extra}, format="json"
    )


def create_ok(api: APIClient, sample: Sample, **extra: Any) -> dict[str, Any]:
    answer = create(api, filename=sample.filename, content_type=sample.content_type, size=len(sample.body), **extra)
    assert answer.status_code == 201, answer.json()
    return answer.json()


def upload(created: dict[str, Any], body: bytes) -> None:
    """PUT with the returned URL and headers only, as a browser would."""
    answer = put_upload(created["upload"], body)
    assert answer.status_code == 200, answer.text


def confirm(api: APIClient, media_id: str) -> Response:
    return api.post(confirm_url(media_id))


def uploaded(api: APIClient, sample: Sample, **extra: Any) -> dict[str, Any]:
    """A created media whose bytes are in temp/, not yet confirmed."""
    created = create_ok(api, sample, **extra)
    upload(created, sample.body)
    return created


def keys_of(media_id: str) -> dict[str, list[str]]:
    """Every stored object of a media, by area."""
    return {
        "temp": stored_keys(f"temp/{media_id}"),
        "permanent": stored_keys(f"permanent/{media_id}/"),
        "quarantine": stored_keys(f"quarantine/{media_id}"),
    }


NOTHING: dict[str, list[str]] = {"temp": [], "permanent": [], "quarantine": []}


def stored_pdf(media_id: str) -> dict[str, list[str]]:
    """The stored objects of an accepted PDF: the original and its first-page preview."""
    return {**NOTHING, "permanent": [f"permanent/{media_id}/{name}" for name in ("original.pdf", "preview.webp")]}


def drop_job(media_id: str) -> None:
    """Remove a media's job with its queue and registry entries, so no test leaves one behind.
    (A Job built from its id alone does not know its queue, and its delete() would leave the
    registries pointing at a job that is gone.)"""
    with contextlib.suppress(NoSuchJobError):
        Job.fetch(jobs.job_id(media_id), connection=django_rq.get_connection("default")).delete()


def run_worker(queue: Queue) -> None:
    """One burst of a real worker in this process: it runs every queued job, then returns."""
    SimpleWorker([queue], connection=queue.connection).work(burst=True, with_scheduler=False)


def submit(api: APIClient, *, filename: str, content_type: str, body: bytes) -> str:
    """Create, PUT the bytes with the returned URL and headers only, confirm: 202, PROCESSING."""
    created = create(api, filename=filename, content_type=content_type, size=len(body))
    assert created.status_code == 201, created.json()
    upload = created.json()["upload"]
    assert put_upload(upload, body).status_code == 200
    confirmed = api.post(f"/api/media/{created.json()['id']}/confirm/")
    assert confirmed.status_code == 202, confirmed.json()
    assert confirmed.json()["status"] == Status.PROCESSING
    return created.json()["id"]


def get_media(api: APIClient, media_id: str) -> dict[str, Any]:
    answer = api.get(detail_url(media_id))
    assert answer.status_code == 200
    return answer.json()


def download(url: str) -> requests.Response:
    answer = requests.get(url, timeout=30)
    assert answer.status_code == 200, answer.text[:300]
    return answer


def spool_files() -> list[Path]:
    """What lies in the spool, but the (empty) folder of each process (media/spool.py)."""
    spool = Path(settings.SPOOL_DIR)
    return sorted(p for p in spool.rglob("*") if p.parent != spool or not p.is_dir()) if spool.exists() else []
