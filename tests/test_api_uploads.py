"""The upload API end to end against SeaweedFS, clamd and ffprobe: every allowlisted audio and
document type goes create -> PUT (returned URL and headers only) -> confirm -> READY; then
idempotence, list, delete, retry, the OpenAPI schema and throttling."""

from __future__ import annotations

import hashlib
import io
import uuid

import django_rq
import pytest
import requests
from django.conf import settings
from django.core.cache import cache
from django.core.management import call_command
from drf_spectacular.validation import validate_schema
from PIL import Image
from rest_framework.throttling import ScopedRateThrottle
from rq import SimpleWorker
from rq.exceptions import NoSuchJobError
from rq.job import Job

from media import jobs, lifecycle, storage
from media.models import Media, Status
from tests import samples
from tests.api_flow import (
    LIST_URL,
    NOTHING,
    confirm,
    create,
    create_ok,
    detail_url,
    drop_job,
    keys_of,
    retry_url,
    stored_pdf,
    upload,
    uploaded,
)
from tests.samples import Sample

pytestmark = pytest.mark.django_db

AUDIO = samples.audio_samples()
DOCUMENTS = samples.document_samples()
CODECS = {
    "mp3": "mp3",
    "aac-adts": "aac",
    "m4a": "aac",
    "m4a-as-x-m4a": "aac",
    "wav": "pcm_s16le",
    "wav-as-x-wav": "pcm_s16le",
    "flac": "flac",
    "ogg-opus": "opus",
    "opus-as-audio-opus": "opus",
    "ogg-vorbis": "vorbis",
}


def _default_queue():
    return django_rq.get_queue("default")


def _job_exists(media_id: str) -> bool:
    try:
        Job.fetch(jobs.job_id(media_id), connection=_default_queue().connection)
    except NoSuchJobError:
        return False
    return True


def test_every_allowlisted_audio_and_document_type_has_a_sample() -> None:
    """The round trips below cover the whole default allowlist, so a type added there needs a sample."""
    covered = {s.content_type.split(";")[0] for s in AUDIO + DOCUMENTS}
    allowlisted = set(settings.MEDIA_KINDS["audio"]["types"]) | set(settings.MEDIA_KINDS["document"]["types"])
    assert allowlisted - covered == set()


def _round_trip(api, sample: Sample) -> dict:
    created = create_ok(api, sample)
    assert created["status"] == Status.PENDING and created["upload"]["method"] == "PUT"
    assert set(created["upload"]["headers"]) == {"Content-Type"}
    upload(created, sample.body)
    answer = confirm(api, created["id"])
    body = answer.json()
    assert answer.status_code == 200, body
    assert body["status"] == Status.READY and body["progress"] == 100 and body["error"] is None
    media_id = created["id"]
    made = {"audio": ["waveform.json", "waveform.png"], "pdf": ["preview.webp"]}.get(
        body["kind"] if body["kind"] == "audio" else sample.extension, []
    )
    stored = sorted(f"permanent/{media_id}/{name}" for name in [f"original.{sample.extension}", *made])
    assert keys_of(media_id) == {**NOTHING, "permanent": stored}
    # The client reads back exactly its bytes through the presigned URL it was given.
    original = requests.get(body["urls"]["original"], timeout=10)
    assert original.status_code == 200 and original.content == sample.body
    return body


@pytest.mark.parametrize("sample", AUDIO, ids=[s.name for s in AUDIO])
def test_audio_round_trip(api, sample: Sample) -> None:
    body = _round_trip(api, sample)
    assert body["kind"] == "audio"
    meta = body["metadata"]
    assert meta["codec"] == CODECS[sample.name]
    assert meta["duration"] == pytest.approx(1.0, abs=0.1)
    assert meta["bitrate"] > 0 and meta["channels"] == 1
    # The waveform: audiowaveform's JSON, a (min, max) pair per point over the whole second, and its PNG.
    peaks = requests.get(body["urls"]["waveform"], timeout=10).json()
    assert (peaks["version"], peaks["channels"], peaks["bits"]) == (2, 1, 8)
    assert len(peaks["data"]) == 2 * peaks["length"]
    assert peaks["length"] * peaks["samples_per_pixel"] == pytest.approx(peaks["sample_rate"], rel=0.1)
    png = requests.get(body["urls"]["waveform_image"], timeout=10)
    assert png.headers["Content-Type"] == "image/png" and png.content.startswith(b"\x89PNG")


def test_an_mp3_with_cover_art_is_audio(api) -> None:
    body = _round_trip(api, Sample("cover", "song.mp3", "audio/mpeg", samples.mp3_with_cover_art, "mp3"))
    assert body["metadata"]["codec"] == "mp3"


@pytest.mark.parametrize("sample", DOCUMENTS, ids=[s.name for s in DOCUMENTS])
def test_document_round_trip(api, sample: Sample) -> None:
    body = _round_trip(api, sample)
    assert body["kind"] == "document"
    assert body["metadata"]["format"] == sample.extension.replace("txt", "text")
    if sample.extension == "pdf":
        assert body["metadata"]["pages"] == 2
        preview = requests.get(body["urls"]["preview"], timeout=10)
        assert preview.status_code == 200 and preview.headers["Content-Type"] == "image/webp"
        with Image.open(io.BytesIO(preview.content)) as image:
            assert image.format == "WEBP" and max(image.size) == 1024
    else:
        assert body["urls"]["preview"] is None  # only PDFs get one


def test_with_a_checksum_the_returned_headers_carry_it_and_the_upload_lands(api) -> None:
    sample = samples.document_samples()[0]
    digest = hashlib.sha256(sample.body).hexdigest()
    created = create_ok(api, sample, checksum_sha256=digest)
    assert "x-amz-checksum-sha256" in created["upload"]["headers"]
    upload(created, sample.body)
    assert confirm(api, created["id"]).json()["status"] == Status.READY


# --- idempotence ---------------------------------------------------------------------


def test_a_repeated_confirm_answers_the_current_state_and_starts_nothing(api) -> None:
    created = uploaded(api, samples.document_samples()[0])
    first = confirm(api, created["id"])
    assert first.status_code == 200
    before = Media.objects.get(pk=created["id"])
    again = confirm(api, created["id"])
    assert again.status_code == 200 and again.json()["status"] == Status.READY
    after = Media.objects.get(pk=created["id"])
    assert (after.attempts, after.updated_at, after.original_key) == (1, before.updated_at, before.original_key)
    assert not _job_exists(created["id"])  # nothing was queued either


def test_a_repeated_confirm_of_a_rejected_media_gives_the_same_answer(api) -> None:
    sample = Sample("exe", "x.pdf", "application/pdf", samples.elf_executable(), "pdf")
    created = uploaded(api, sample)
    first = confirm(api, created["id"])
    again = confirm(api, created["id"])
    assert first.status_code == again.status_code == 422
    assert (
        first.json()["error"]
        == again.json()["error"]
        == {
            "code": "type_mismatch",
            "message": first.json()["error"]["message"],
        }
    )
    assert Media.objects.get(pk=created["id"]).attempts == 1


def test_an_image_confirm_queues_one_job_and_a_second_confirm_queues_none(
    api, django_capture_on_commit_callbacks
) -> None:
    created = uploaded(api, Sample("png", "dot.png", "image/png", samples.png(), "png"))
    queue = django_rq.get_queue("images")
    job_id = jobs.job_id(created["id"])
    try:
        with django_capture_on_commit_callbacks(execute=True) as queued:
            answer = confirm(api, created["id"])
        assert answer.status_code == 202 and answer.json()["status"] == Status.PROCESSING
        assert queue.job_ids.count(job_id) == 1
        with django_capture_on_commit_callbacks(execute=True) as queued_again:
            again = confirm(api, created["id"])
        assert again.status_code == 202 and again.json()["status"] == Status.PROCESSING
        assert len(queued_again) < len(queued) and queue.job_ids.count(job_id) == 1
        assert keys_of(created["id"])["temp"] == [f"temp/{created['id']}"]  # the worker's to move
    finally:
        drop_job(created["id"])


# --- list -------------------------------------------------------------------------------


def _make(user, **fields) -> Media:
    defaults = {"kind": "document", "filename": "a.txt", "content_type": "text/plain", "size": 1}
    return Media.objects.create(owner=user, **{**defaults, **fields})


def test_list_is_the_users_own_newest_first_and_paginated(api, user, other_user) -> None:
    made = [_make(user, filename=f"{n}.txt") for n in range(5)]
    _make(other_user, filename="not-mine.txt")
    page = api.get(LIST_URL, {"page_size": 2}).json()
    assert page["count"] == 5
    assert [m["filename"] for m in page["results"]] == ["4.txt", "3.txt"]
    rest = api.get(page["next"]).json()
    assert [m["filename"] for m in rest["results"]] == ["2.txt", "1.txt"]
    everything = api.get(LIST_URL).json()["results"]
    assert [m["id"] for m in everything] == [str(m.id) for m in reversed(made)]
    assert api.get(LIST_URL, {"page": 99}).status_code == 404


def test_list_filters_by_status_and_kind(api, user) -> None:
    ready_audio = _make(user, kind="audio", status=Status.READY, content_type="audio/mpeg")
    _make(user, kind="document", status=Status.READY)
    pending_audio = _make(user, kind="audio", content_type="audio/mpeg")
    by_both = api.get(LIST_URL, {"status": "READY", "kind": "audio"}).json()["results"]
    assert [m["id"] for m in by_both] == [str(ready_audio.id)]
    by_kind = api.get(LIST_URL, {"kind": "audio"}).json()["results"]
    assert {m["id"] for m in by_kind} == {str(ready_audio.id), str(pending_audio.id)}
    assert len(api.get(LIST_URL, {"status": "READY"}).json()["results"]) == 2


@pytest.mark.parametrize(("name", "value"), [("status", "DONE"), ("kind", "spreadsheet"), ("status", "ready")])
def test_a_bad_filter_value_is_a_400_naming_the_field(api, name: str, value: str) -> None:
    answer = api.get(LIST_URL, {name: value})
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "invalid_choice" and error["field"] == name and value in error["message"]


# --- delete -------------------------------------------------------------------------------


def test_delete_of_a_ready_media_removes_its_permanent_objects(api) -> None:
    created = uploaded(api, samples.document_samples()[0])
    assert confirm(api, created["id"]).status_code == 200
    assert keys_of(created["id"])["permanent"]
    assert api.delete(detail_url(created["id"])).status_code == 204
    assert keys_of(created["id"]) == NOTHING
    assert not Media.objects.filter(pk=created["id"]).exists()
    assert api.get(detail_url(created["id"])).status_code == 404


def test_delete_of_an_unconfirmed_upload_removes_the_temp_object(api) -> None:
    created = uploaded(api, samples.document_samples()[0])
    assert keys_of(created["id"])["temp"]
    assert api.delete(detail_url(created["id"])).status_code == 204
    assert keys_of(created["id"]) == NOTHING


def test_delete_of_malware_removes_the_quarantined_copy(api) -> None:
    created = uploaded(api, Sample("eicar", "a.txt", "text/plain", samples.eicar_in_text(), "txt"))
    assert confirm(api, created["id"]).status_code == 422
    assert keys_of(created["id"])["quarantine"] == [f"quarantine/{created['id']}"]
    assert api.delete(detail_url(created["id"])).status_code == 204
    assert keys_of(created["id"]) == NOTHING


def test_delete_of_a_processing_image_removes_renditions_and_cancels_its_job(
    api, django_capture_on_commit_callbacks
) -> None:
    created = uploaded(api, Sample("png", "dot.png", "image/png", samples.png(), "png"))
    media_id = created["id"]
    with django_capture_on_commit_callbacks(execute=True):
        assert confirm(api, media_id).status_code == 202
    queue = django_rq.get_queue("images")
    assert jobs.job_id(media_id) in queue.job_ids
    # What a worker half way through leaves behind: renditions and an HLS folder under permanent/.
    for name in ("thumb.webp", "optimized.webp", "hls/master.m3u8"):
        storage.client().put_object(Bucket=storage.bucket_name(), Key=f"permanent/{media_id}/{name}", Body=b"x")
    assert api.delete(detail_url(media_id)).status_code == 204
    assert keys_of(media_id) == NOTHING
    assert jobs.job_id(media_id) not in queue.job_ids
    drop_job(media_id)


# --- retry ---------------------------------------------------------------------------------


@pytest.mark.parametrize("state", [Status.PENDING, Status.READY, Status.REJECTED, Status.PROCESSING, Status.EXPIRED])
def test_retry_of_a_media_that_is_not_failed_is_a_409(api, user, state: Status) -> None:
    media = _make(user, status=state)
    answer = api.post(retry_url(str(media.id)))
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "not_failed" and answer.json()["status"] == state
    assert Media.objects.get(pk=media.id).status == state
    assert not _job_exists(str(media.id))


def test_retry_of_a_failed_media_queues_a_job_that_makes_it_ready(
    api, settings, django_capture_on_commit_callbacks
) -> None:
    created = uploaded(api, samples.document_samples()[0])
    media_id = created["id"]
    # Processing broke after all its retries (set directly: the FAILED path has its own tests).
    assert lifecycle.start_processing(media_id) is not None
    assert lifecycle.mark_failed(media_id, code="processing_failed", message="Broke.") is not None
    queue = _default_queue()
    try:
        with django_capture_on_commit_callbacks(execute=True):
            answer = api.post(retry_url(media_id))
        assert answer.status_code == 202 and answer.json()["status"] == Status.PROCESSING
        assert answer.json()["error"] is None
        assert jobs.job_id(media_id) in queue.job_ids
        assert api.post(retry_url(media_id)).status_code == 409  # already running again
        SimpleWorker([queue], connection=queue.connection).work(burst=True)
        media = Media.objects.get(pk=media_id)
        assert media.status == Status.READY and media.attempts == 1
        assert keys_of(media_id) == stored_pdf(media_id)
    finally:
        drop_job(media_id)


# --- schema, docs, throttling --------------------------------------------------------------------


def test_the_openapi_schema_validates_without_warnings(tmp_path) -> None:
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))


def test_the_schema_and_the_docs_page_are_served(client) -> None:
    schema = client.get("/api/schema/", {"format": "json"})
    assert schema.status_code == 200
    document = schema.json()
    validate_schema(document)
    paths = document["paths"]
    for path in ("/api/media/", "/api/media/{id}/", "/api/media/{id}/confirm/", "/api/media/{id}/retry/"):
        assert path in paths
    created = paths["/api/media/"]["post"]["responses"]
    assert {"201", "400", "429"} <= set(created)
    assert created["400"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorResponse")
    assert "404" in paths["/api/media/{id}/"]["get"]["responses"]
    docs = client.get("/api/docs/")
    assert docs.status_code == 200 and b"swagger" in docs.content.lower()


def test_create_is_throttled_with_the_error_shape(api, user, monkeypatch) -> None:
    # DRF reads the rates once, into the throttle class; patch them there (a configuration, not a fake).
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"media_create": "2/minute"})
    # the counters live in the shared Redis cache: drop only this user's (FLUSHDB would take the queues too)
    key = ScopedRateThrottle.cache_format % {"scope": "media_create", "ident": user.pk}
    cache.delete(key)
    try:
        sample = samples.document_samples()[-1]
        for _ in range(2):
            assert create(api, filename="a.txt", content_type="text/plain", size=len(sample.body)).status_code == 201
        answer = create(api, filename="a.txt", content_type="text/plain", size=len(sample.body))
        assert answer.status_code == 429
        assert answer.json()["error"]["code"] == "throttled"
        assert "throttled" in answer.json()["error"]["message"].lower()
        assert int(answer["Retry-After"]) > 0
        assert Media.objects.count() == 2
        assert api.get(LIST_URL).status_code == 200  # reads are not throttled
    finally:
        cache.delete(key)


def test_an_unknown_media_id_is_a_404_with_the_error_shape(api) -> None:
    answer = api.get(detail_url(str(uuid.uuid4())))
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "not_found"


# --- audio over the confirm's time budget ------------------------------------------------------------


@pytest.mark.django_db(transaction=True)  # the worker's commits publish the progress events
def test_audio_over_the_confirms_budget_is_queued_and_ends_ready_with_progress(api, user, settings) -> None:
    from functools import partial

    from tests.helpers import GroupEvents

    settings.AUDIO_INLINE_MAX_DURATION = 2  # seconds of audio the confirm checks itself
    settings.PROGRESS_MIN_INTERVAL = 0  # every stage of this short job, not one per half second
    sample = Sample("long", "talk.mp3", "audio/mpeg", partial(samples.tone, "mp3", 5.0), "mp3")
    with GroupEvents(user.id) as listener:
        created = uploaded(api, sample)
        answer = confirm(api, created["id"])
        body = answer.json()
        assert answer.status_code == 202, body
        assert (body["status"], body["error"], body["urls"]["waveform"]) == (Status.PROCESSING, None, None)
        assert jobs.job_id(created["id"]) in _default_queue().job_ids
        assert keys_of(created["id"])["permanent"] == []  # nothing moved or made on the inline path
        try:
            SimpleWorker([_default_queue()], connection=_default_queue().connection).work(burst=True)
        finally:
            drop_job(created["id"])
        received = listener.until_final(created["id"])

    media = api.get(detail_url(created["id"])).json()
    assert media["status"] == Status.READY and media["metadata"]["duration"] == pytest.approx(5.0, abs=0.1)
    peaks = requests.get(media["urls"]["waveform"], timeout=10).json()
    assert peaks["length"] * peaks["samples_per_pixel"] == pytest.approx(5 * peaks["sample_rate"], rel=0.1)
    assert keys_of(created["id"])["permanent"] == sorted(
        f"permanent/{created['id']}/{name}" for name in ("original.mp3", "waveform.json", "waveform.png")
    )
    progress = [e["progress"] for e in received]
    assert progress == sorted(progress) and "probing" in {e["stage"] for e in received}, received
    assert received[-1]["status"] == Status.READY


@pytest.mark.django_db(transaction=True)
def test_damaged_audio_over_the_budget_is_rejected_by_the_queue_and_leaves_nothing(api, settings) -> None:
    settings.AUDIO_INLINE_MAX_DURATION = 1  # the cut MP3's headers claim 3 s: it goes to the queue
    created = uploaded(api, Sample("cut", "song.mp3", "audio/mpeg", samples.truncated_mp3, ""))
    assert confirm(api, created["id"]).status_code == 202
    try:
        SimpleWorker([_default_queue()], connection=_default_queue().connection).work(burst=True)
    finally:
        drop_job(created["id"])
    media = api.get(detail_url(created["id"])).json()
    assert (media["status"], media["error"]["code"]) == (Status.REJECTED, "corrupt_file")
    assert keys_of(created["id"]) == NOTHING
