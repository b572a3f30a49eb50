"""Every kind of bad input, through the API: its error code, the media's final state, and what is
left in storage (nothing, or only quarantine/<id> for malware). Filenames are hostile too."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import unquote

import pytest
import requests
from django.conf import settings

from media import maintenance, storage
from media.models import Media, Status
from tests import samples
from tests.api_flow import NOTHING, confirm, create, create_ok, detail_url, keys_of, upload, uploaded
from tests.samples import Sample

pytestmark = pytest.mark.django_db

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _rejected(api, sample: Sample, code: str, *, status: int = 422) -> dict:
    """Upload and confirm a bad file; it ends REJECTED with `code`, and the answer says so."""
    created = uploaded(api, sample)
    answer = confirm(api, created["id"])
    body = answer.json()
    assert answer.status_code == status, body
    assert body["status"] == Status.REJECTED
    assert body["error"]["code"] == code and body["error"]["message"].endswith(".")
    assert body["urls"]["original"] is None
    media = Media.objects.get(pk=created["id"])
    assert (media.status, media.error_code, media.original_key) == (Status.REJECTED, code, "")
    return created


# --- the bytes are not what was declared ---------------------------------------------------

MISMATCHES = [
    Sample("linux-executable-as-pdf", "invoice.pdf", PDF, samples.elf_executable(), ""),
    Sample("windows-executable-as-pdf", "invoice.pdf", PDF, samples.windows_executable(), ""),
    Sample("zip-as-mp3", "song.mp3", "audio/mpeg", samples.zip_archive(), ""),
    Sample("zip-as-docx", "letter.docx", DOCX, samples.zip_archive(), ""),
    Sample("docx-as-xlsx", "sheet.xlsx", XLSX, samples.docx(), ""),
    Sample("pdf-as-mp3", "song.mp3", "audio/mpeg", samples.pdf(), ""),
    Sample("film-as-m4a", "song.m4a", "audio/mp4", samples.film_as_m4a, ""),
    Sample("html-as-text", "notes.txt", "text/plain", b"<!DOCTYPE html><html><script>alert(1)</script></html>", ""),
]


@pytest.mark.parametrize("sample", MISMATCHES, ids=[s.name for s in MISMATCHES])
def test_content_that_is_not_the_declared_type_is_a_type_mismatch(api, sample: Sample) -> None:
    created = _rejected(api, sample, "type_mismatch")
    assert keys_of(created["id"]) == NOTHING


# --- malware --------------------------------------------------------------------------------

MALWARE = [
    Sample("eicar-in-pdf", "report.pdf", PDF, samples.eicar_in_pdf(), ""),
    Sample("eicar-in-text", "notes.txt", "text/plain", samples.eicar_in_text(), ""),
    Sample("project-marker-in-text", "notes.txt", "text/plain", samples.marker_in_text(), ""),
    Sample("eicar-inside-docx", "letter.docx", DOCX, samples.docx(payload=samples.EICAR), ""),
    # Audio is scanned too. (clamd skips MP3s that start with an ID3 tag and Ogg files entirely.)
    Sample("eicar-after-wav", "tone.wav", "audio/wav", lambda: samples.tone("wav") + samples.EICAR, ""),
]


@pytest.mark.parametrize("sample", MALWARE, ids=[s.name for s in MALWARE])
def test_malware_is_rejected_and_kept_in_quarantine_only(api, sample: Sample) -> None:
    created = _rejected(api, sample, "malware_detected")
    media_id = created["id"]
    assert keys_of(media_id) == {**NOTHING, "quarantine": [f"quarantine/{media_id}"]}
    assert storage.read(f"quarantine/{media_id}") == sample.body  # exactly what was sent, for moderators
    media = Media.objects.get(pk=media_id)
    assert media.quarantine_key == f"quarantine/{media_id}"
    assert media.error_detail  # the signature, for moderators only ...
    assert media.error_detail not in str(confirm(api, media_id).json())  # ... never shown to the client


# --- broken files ------------------------------------------------------------------------------


def test_a_truncated_mp3_is_a_corrupt_file(api) -> None:
    created = _rejected(api, Sample("cut", "song.mp3", "audio/mpeg", samples.truncated_mp3, ""), "corrupt_file")
    assert keys_of(created["id"]) == NOTHING
    assert "decoded" in Media.objects.get(pk=created["id"]).error_detail


def test_noise_declared_as_wav_is_rejected(api) -> None:
    sample = Sample("noise", "a.wav", "audio/wav", bytes(range(256)) * 8, "")
    created = uploaded(api, sample)
    body = confirm(api, created["id"]).json()
    assert body["status"] == Status.REJECTED and body["error"]["code"] in {"type_mismatch", "corrupt_file"}
    assert keys_of(created["id"]) == NOTHING


def test_an_empty_file_is_refused_at_create(api) -> None:
    """Size 0 never gets an upload URL: nothing to validate, and S3 would store an empty object."""
    answer = create(api, filename="empty.txt", content_type="text/plain", size=0)
    assert answer.status_code == 400
    assert answer.json()["error"] == {"code": "empty_file", "message": "The file is empty.", "field": "size"}
    assert not Media.objects.exists()


# --- the upload itself is wrong -----------------------------------------------------------------


@pytest.mark.parametrize("delta", [+5, -5], ids=["bigger", "smaller"])
def test_an_object_of_another_size_is_a_size_mismatch(api, delta: int) -> None:
    body = samples.TEXT
    created = create(api, filename="a.txt", content_type="text/plain", size=len(body)).json()
    # A client that bypasses the signed length (boto3 with the server's credentials, straight to temp/).
    stored = body + b"x" * delta if delta > 0 else body[:delta]
    storage.client().put_object(Bucket=storage.bucket_name(), Key=f"temp/{created['id']}", Body=stored)
    answer = confirm(api, created["id"])
    assert answer.status_code == 409
    assert answer.json()["status"] == Status.REJECTED and answer.json()["error"]["code"] == "size_mismatch"
    assert keys_of(created["id"]) == NOTHING
    again = confirm(api, created["id"])  # a repeat answers the same
    assert again.status_code == 409 and again.json()["error"]["code"] == "size_mismatch"


def test_the_store_refuses_a_put_of_another_length_with_the_returned_url(api) -> None:
    created = create(api, filename="a.txt", content_type="text/plain", size=len(samples.TEXT)).json()
    answer = requests.put(
        created["upload"]["url"], data=samples.TEXT + b"more", headers=created["upload"]["headers"], timeout=10
    )
    assert answer.status_code == 403
    assert keys_of(created["id"]) == NOTHING


def test_confirm_before_upload_is_upload_missing_then_the_media_expires(api, settings) -> None:
    settings.CONFIRM_HEAD_MAX_WAIT = 0.3  # the HEAD retries ride out eventual consistency; nothing is coming here
    created = create(api, filename="a.txt", content_type="text/plain", size=10).json()
    answer = confirm(api, created["id"])
    assert answer.status_code == 409
    assert answer.json()["status"] == Status.PENDING and answer.json()["error"]["code"] == "upload_missing"
    assert Media.objects.get(pk=created["id"]).status == Status.PENDING
    assert maintenance.expire_pending(older_than=timedelta(0)).actions == {"expire": [created["id"]]}
    media = Media.objects.get(pk=created["id"])
    assert media.status == Status.EXPIRED and media.error_code == "upload_missing"
    late = confirm(api, created["id"])
    assert late.status_code == 409 and late.json()["status"] == Status.EXPIRED
    assert keys_of(created["id"]) == NOTHING


def test_an_upload_that_arrives_after_a_missing_confirm_is_accepted(api, settings) -> None:
    settings.CONFIRM_HEAD_MAX_WAIT = 0.3
    sample = samples.document_samples()[-2]
    created = create_ok(api, sample)
    assert confirm(api, created["id"]).status_code == 409
    upload(created, sample.body)
    answer = confirm(api, created["id"])
    assert answer.status_code == 200 and answer.json()["error"] is None


# --- refused at create -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "content_type"),
    [
        ("setup.exe", "application/x-msdownload"),
        ("page.html", "text/html"),
        ("logo.svg", "image/svg+xml"),
        ("archive.zip", "application/zip"),
        ("x", ""),
        ("x", "audio"),
    ],
)
def test_an_unsupported_type_is_refused_at_create(api, filename: str, content_type: str) -> None:
    answer = create(api, filename=filename, content_type=content_type, size=10)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["field"] == "content_type"
    assert error["code"] in {"unsupported_type", "blank"}
    assert not Media.objects.exists()


@pytest.mark.parametrize("kind", ["document", "audio", "image", "video"])
def test_a_declared_size_over_the_kinds_limit_is_refused(api, kind: str) -> None:
    content_type = settings.MEDIA_KINDS[kind]["types"][0]
    limit = settings.MEDIA_KINDS[kind]["max_size"]
    answer = create(api, filename="big", content_type=content_type, size=limit + 1)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "too_large" and answer.json()["error"]["field"] == "size"
    # the limit itself is fine
    assert create(api, filename="big", content_type=content_type, size=limit).status_code == 201


@pytest.mark.parametrize("size", [-1, "ten", 1.5, None, 10**30])
def test_a_size_that_is_not_a_sensible_integer_is_refused(api, size) -> None:
    answer = api.post("/api/media/", {"filename": "a.txt", "content_type": "text/plain", "size": size}, format="json")
    assert answer.status_code == 400 and answer.json()["error"]["field"] == "size"


def test_missing_fields_are_all_named(api) -> None:
    answer = api.post("/api/media/", {}, format="json")
    assert answer.status_code == 400
    assert set(answer.json()["fields"]) == {"filename", "content_type", "size"}


# --- hostile filenames ---------------------------------------------------------------------------

FILENAMES = [
    ("../../etc/passwd", "passwd"),
    ("..\\..\\Windows\\System32\\drivers\\etc\\hosts.txt", "hosts.txt"),
    ("/absolute/path/notes.txt", "notes.txt"),
    ("a" * 10_000 + ".txt", "a" * 251 + ".txt"),
    ("b" * 10_000, "b" * 255),
    ("bell\x07 null\x00 esc\x1b[31m tab\t nl\n.txt", "bell null esc[31m tab nl.txt"),
    ("invoice\u202etxt.exe", "invoicetxt.exe"),  # RTL override would display as "invoiceexe.txt"
    ("\u2066isolate\u2069 \u200fmark.txt", "isolate mark.txt"),
    ("zero\u200bwidth\ufeff.txt", "zerowidth.txt"),
    ("résumé – 日本語 ✓.txt", "résumé – 日本語 ✓.txt"),
    ("re\u0301sume\u0301.txt", "résumé.txt"),  # combining accents are normalised to NFC
    ("می\u200cخواهم.txt", "می\u200cخواهم.txt"),  # Persian needs its zero-width non-joiner
    ("👩\u200d💻 notes.txt", "👩\u200d💻 notes.txt"),  # an emoji sequence keeps its joiner
    ("  ..hidden.txt.. ", "hidden.txt"),
    ("Ω" * 300 + ".pdf.txt", "Ω" * 251 + ".txt"),
]


@pytest.mark.parametrize(("raw", "cleaned"), FILENAMES, ids=[f"name{n}" for n in range(len(FILENAMES))])
def test_a_hostile_filename_is_cleaned_and_kept_out_of_storage_keys(api, raw: str, cleaned: str) -> None:
    created = create(api, filename=raw, content_type="text/plain", size=len(samples.TEXT))
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["filename"] == cleaned
    upload(body, samples.TEXT)
    done = confirm(api, body["id"])
    assert done.status_code == 200
    media_id = body["id"]
    assert Media.objects.get(pk=media_id).filename == cleaned
    assert keys_of(media_id) == {**NOTHING, "permanent": [f"permanent/{media_id}/original.txt"]}
    key_shape = re.compile(rf"^(temp|permanent|quarantine)/{media_id}(/original\.txt)?$")
    assert all(key_shape.match(key) for key in storage.list_keys(f"permanent/{media_id}/"))
    # The download keeps the exact (Unicode) name for the user, in the Content-Disposition only.
    download = requests.get(done.json()["urls"]["original"], timeout=10)
    assert download.status_code == 200 and download.content == samples.TEXT
    disposition = download.headers["Content-Disposition"]
    assert unquote(disposition.split("filename*=UTF-8''")[1]) == cleaned


@pytest.mark.parametrize("raw", ["../..", "/", "\x00\x01", "\u202e", "   ", "..."])
def test_a_filename_with_nothing_usable_left_is_refused(api, raw: str) -> None:
    answer = create(api, filename=raw, content_type="text/plain", size=10)
    assert answer.status_code == 400
    assert answer.json()["error"]["field"] == "filename"
    assert not Media.objects.exists()


def test_detail_and_list_show_the_cleaned_name_only(api) -> None:
    created = create(api, filename="../../etc/passwd", content_type="text/plain", size=10).json()
    assert api.get(detail_url(created["id"])).json()["filename"] == "passwd"
    assert "etc" not in str(api.get("/api/media/").json())
