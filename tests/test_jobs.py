"""The job layer through a real RQ worker, Redis and SeaweedFS: retries with backoff, the final
FAILED, idempotence, and no temporary file left behind in any outcome."""

from __future__ import annotations

import io
import time

import django_rq
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from PIL import Image
from rq import SimpleWorker

from media import jobs, storage
from media.models import Media, Status
from processing import images
from tests.api_flow import spool_files
from tests.helpers import clear_queue, put_upload, stored_keys


def jpeg(width: int = 320, height: int = 240) -> bytes:
    buffer = io.BytesIO()
    Image.effect_mandelbrot((width, height), (-2, -1.2, 1, 1.2), 64).convert("RGB").save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


@pytest.fixture
def image_queue(settings, tmp_path):
    settings.SPOOL_DIR = tmp_path / "spool"
    settings.JOB_RETRY_INTERVALS = [0]  # retry at once, so one burst of the worker sees every attempt
    settings.JOB_MAX_RETRIES = 2
    queue = django_rq.get_queue("images", commit_mode="auto")
    clear_queue(queue)
    yield queue
    clear_queue(queue)


def work(queue) -> None:
    SimpleWorker([queue], connection=queue.connection).work(burst=True, with_scheduler=False)


def confirmed_image(api, body: bytes) -> str:
    created = api.post(
        "/api/media/", {"filename": "p.jpg", "content_type": "image/jpeg", "size": len(body)}, format="json"
    ).json()
    assert put_upload(created["upload"], body).status_code == 200
    assert api.post(f"/api/media/{created['id']}/confirm/").status_code == 202
    return created["id"]


def spool_is_empty(settings) -> bool:
    return spool_files() == []  # each process's own (empty) folder aside


@pytest.mark.django_db(transaction=True)
def test_a_transient_storage_failure_is_retried_then_succeeds(api, image_queue, settings, monkeypatch) -> None:
    media_id = confirmed_image(api, jpeg())
    real_upload, calls = storage.upload, []

    def flaky_upload(*args, **kwargs):  # fault injection: the store drops the first rendition upload
        calls.append(args[1])
        if len(calls) == 1:
            raise EndpointConnectionError(endpoint_url="http://s3.invalid")
        return real_upload(*args, **kwargs)

    monkeypatch.setattr(storage, "upload", flaky_upload)
    work(image_queue)
    media = Media.objects.get(pk=media_id)
    assert media.status == Status.READY, media.error_detail
    assert media.attempts == 2
    # the original and every output recorded, nothing else (twins share one object)
    recorded = set(media.outputs.values_list("key", flat=True))
    assert {f"{media.permanent_prefix}optimized.webp", f"{media.permanent_prefix}thumb.webp"} <= recorded
    assert set(stored_keys(media.permanent_prefix)) == {f"{media.permanent_prefix}original.jpg", *recorded}
    assert stored_keys(media.temp_key) == []
    assert spool_is_empty(settings)


@pytest.mark.django_db(transaction=True)
def test_exhausted_retries_end_failed_and_keep_the_upload(api, image_queue, settings, monkeypatch) -> None:
    media_id = confirmed_image(api, jpeg())

    def broken_upload(*args, **kwargs):  # fault injection: the store refuses every write (an outage would wait)
        error = {"Error": {"Code": "AccessDenied", "Message": "denied"}, "ResponseMetadata": {"HTTPStatusCode": 403}}
        raise ClientError(error, "PutObject")

    monkeypatch.setattr(storage, "upload", broken_upload)
    work(image_queue)
    media = Media.objects.get(pk=media_id)
    assert media.status == Status.FAILED
    assert media.error == {
        "code": "processing_failed",
        "message": "Processing failed after several attempts; an operator can retry it.",
    }
    assert "AccessDenied" in media.error_detail
    assert media.attempts == 1 + settings.JOB_MAX_RETRIES
    assert spool_is_empty(settings)
    # nothing accepted is lost: the bytes wait in temp/ or permanent/ for a retry
    assert stored_keys(media.temp_key) or stored_keys(media.permanent_prefix)

    monkeypatch.undo()
    assert api.post(f"/api/media/{media_id}/retry/").status_code == 202
    work(image_queue)
    assert Media.objects.get(pk=media_id).status == Status.READY


@pytest.mark.django_db(transaction=True)
def test_a_job_over_its_timeout_is_retried_then_failed(api, image_queue, settings, monkeypatch) -> None:
    settings.JOB_TIMEOUT_IMAGE = 1
    settings.JOB_MAX_RETRIES = 1
    media_id = confirmed_image(api, jpeg())
    real_render = images.render_image

    def stuck_render(*args, **kwargs):  # fault injection: a decoder that hangs
        time.sleep(5)
        return real_render(*args, **kwargs)

    monkeypatch.setattr(images, "render_image", stuck_render)
    started = time.monotonic()
    work(image_queue)
    assert time.monotonic() - started < 8  # two attempts of one second each, not two of five
    media = Media.objects.get(pk=media_id)
    assert media.status == Status.FAILED and "JobTimeoutException" in media.error_detail
    assert spool_is_empty(settings)


@pytest.mark.django_db(transaction=True)
def test_running_the_job_twice_gives_the_same_objects_and_row(api, image_queue, settings) -> None:
    media_id = confirmed_image(api, jpeg())
    work(image_queue)
    first = Media.objects.get(pk=media_id)
    objects = {key: storage.read(key) for key in stored_keys(first.permanent_prefix)}

    # a re-delivered job after a crash between the last upload and READY (the output rows come with READY)
    made = dict(first.outputs.values_list("name", "key"))
    assert {"thumbnail", "optimized", "avif_320", "webp_2048"} <= set(made)
    Media.objects.filter(pk=media_id).update(status=Status.PROCESSING)
    first.outputs.all().delete()
    assert jobs.process_media(media_id) == "ready"
    second = Media.objects.get(pk=media_id)
    assert {key: storage.read(key) for key in stored_keys(second.permanent_prefix)} == objects
    fields = ["status", "original_key", "metadata", "detected_type", "progress"]
    assert [getattr(second, f) for f in fields] == [getattr(first, f) for f in fields]
    assert dict(second.outputs.values_list("name", "key")) == made
    assert spool_is_empty(settings)

    # and a job for a media that is no longer PROCESSING does nothing
    assert jobs.process_media(media_id) == "skipped: not PROCESSING"
    assert Media.objects.get(pk=media_id).attempts == second.attempts


@pytest.mark.django_db(transaction=True)
def test_a_rejected_image_is_final_and_never_retried(api, image_queue, settings) -> None:
    body = b"\xff\xd8\xff\xe0" + b"\x00" * 2000  # a JPEG signature and nothing decodable after it
    media_id = confirmed_image(api, body)
    work(image_queue)
    media = Media.objects.get(pk=media_id)
    assert media.status == Status.REJECTED and media.error_code == "corrupt_file"
    assert media.attempts == 1
    assert stored_keys(media.temp_key) == [] and stored_keys(media.permanent_prefix) == []
    assert image_queue.failed_job_registry.count == 0
    assert spool_is_empty(settings)


@pytest.mark.django_db(transaction=True)
def test_deleting_a_media_while_it_waits_drops_its_job(api, image_queue) -> None:
    media_id = confirmed_image(api, jpeg())
    assert image_queue.count == 1
    assert api.delete(f"/api/media/{media_id}/").status_code == 204
    work(image_queue)
    assert not Media.objects.filter(pk=media_id).exists()
    assert stored_keys(f"permanent/{media_id}/") == [] and stored_keys(f"temp/{media_id}") == []


EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


@pytest.mark.django_db(transaction=True)
def test_bytes_put_again_after_the_checks_never_reach_permanent(api, settings, monkeypatch) -> None:
    """The upload URL stays valid after confirm: a client that PUTs other bytes (of the same length,
    so the signature still holds) while its clean file is being checked gets the new bytes checked."""
    from processing import scan

    settings.JOB_RETRY_INTERVALS = [0]
    clean = b"plain text, nothing to see here ".ljust(len(EICAR), b".")
    created = api.post(
        "/api/media/", {"filename": "n.txt", "content_type": "text/plain", "size": len(clean)}, format="json"
    ).json()
    assert put_upload(created["upload"], clean).status_code == 200
    real_scan, swapped = scan.scan, []

    def scan_then_swap(fileobj, server):  # fault injection: the client's second PUT lands during the scan
        verdict = real_scan(fileobj, server)
        if not swapped:
            swapped.append(put_upload(created["upload"], EICAR).status_code)
        return verdict

    monkeypatch.setattr(scan, "scan", scan_then_swap)
    answer = api.post(f"/api/media/{created['id']}/confirm/")
    assert swapped == [200]
    assert answer.status_code == 503  # the checked version is gone: checked again, in the background
    assert stored_keys(f"permanent/{created['id']}/") == []

    default = django_rq.get_queue("default", commit_mode="auto")
    SimpleWorker([default], connection=default.connection).work(burst=True, with_scheduler=False)
    media = Media.objects.get(pk=created["id"])
    assert (media.status, media.error_code) == (Status.REJECTED, "malware_detected")
    assert stored_keys(f"permanent/{created['id']}/") == []
    assert storage.read(f"quarantine/{created['id']}") == EICAR


@pytest.mark.django_db(transaction=True)
def test_a_media_deleted_while_its_job_runs_keeps_nothing(api, image_queue, monkeypatch) -> None:
    media_id = confirmed_image(api, jpeg())
    real_render = images.render_image

    def render_then_delete(*args, **kwargs):  # fault injection: the owner deletes it mid-run
        result = real_render(*args, **kwargs)
        Media.objects.filter(pk=media_id).delete()
        return result

    monkeypatch.setattr(images, "render_image", render_then_delete)
    work(image_queue)
    assert not Media.objects.filter(pk=media_id).exists()
    assert stored_keys(f"permanent/{media_id}/") == [] and stored_keys(f"temp/{media_id}") == []
    assert image_queue.failed_job_registry.count == 0


@pytest.mark.django_db(transaction=True)
def test_a_delete_that_failed_on_storage_can_be_repeated(api, image_queue, monkeypatch) -> None:
    media_id = confirmed_image(api, jpeg())

    def unreachable(*args, **kwargs):  # fault injection: the store is down during the first delete
        raise EndpointConnectionError(endpoint_url="http://s3.invalid")

    monkeypatch.setattr(storage, "delete", unreachable)
    first = api.delete(f"/api/media/{media_id}/")
    assert first.status_code == 503 and first.json()["error"]["code"] == "storage_unavailable"
    assert Media.objects.filter(pk=media_id).exists()  # nothing lost, nothing half-deleted
    monkeypatch.undo()
    assert api.delete(f"/api/media/{media_id}/").status_code == 204  # its job was already cancelled
    assert stored_keys(f"temp/{media_id}") == [] and not Media.objects.filter(pk=media_id).exists()
