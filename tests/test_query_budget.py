"""Regression guards of what one API call costs: the database queries of create, confirm and GET, and the
progress events one confirm publishes. bench/load.py measures what they cost under load (bench/README.md);
these say when a change makes them more again. Raise a budget only knowingly."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from tests import image_samples
from tests.api_flow import confirm_url, create_ok, detail_url, upload
from tests.helpers import GroupEvents
from tests.samples import Sample

pytestmark = pytest.mark.django_db(transaction=True)

TEXT = Sample("text", "notes.txt", "text/plain", b"meeting notes\n" * 40, "txt")
PNG = Sample("png", "dot.png", "image/png", image_samples.png_with_alpha, "png")

# token, then what the call itself needs (the SQL of each is in the failure message)
CREATE_QUERIES = 2  # token; INSERT (a single PUT: no transaction, no second write)
CONFIRM_INLINE_QUERIES = 8  # token, own; claim UPDATE + read; READY UPDATE + read; the answer: row, duplicate
CONFIRM_QUEUED_QUERIES = 7  # token, own; BEGIN, claim UPDATE + read, COMMIT; the answer's outputs lookup
GET_QUERIES = 3  # token, own, duplicate (a text document has no outputs to look up)


def queries_of(call: Callable[[], Any]) -> tuple[Any, list[str]]:
    with CaptureQueriesContext(connection) as captured:
        answer = call()
    return answer, [query["sql"] for query in captured.captured_queries]


def test_create_confirm_and_get_of_a_text_document_stay_within_their_queries(api: APIClient) -> None:
    created, sql = queries_of(lambda: create_ok(api, TEXT))
    assert len(sql) <= CREATE_QUERIES, "\n".join(sql)
    upload(created, TEXT.body)

    confirmed, sql = queries_of(lambda: api.post(confirm_url(created["id"])))
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "READY", confirmed.json()
    assert len(sql) <= CONFIRM_INLINE_QUERIES, "\n".join(sql)

    got, sql = queries_of(lambda: api.get(detail_url(created["id"])))
    assert got.status_code == 200 and got.json()["status"] == "READY"
    assert len(sql) <= GET_QUERIES, "\n".join(sql)


def test_confirm_of_an_image_queues_it_within_its_queries(api: APIClient) -> None:
    created = create_ok(api, PNG)
    upload(created, PNG.body)
    confirmed, sql = queries_of(lambda: api.post(confirm_url(created["id"])))
    assert confirmed.status_code == 202, confirmed.json()
    assert len(sql) <= CONFIRM_QUEUED_QUERIES, "\n".join(sql)


def test_an_inline_confirm_publishes_two_events_processing_then_ready(api: APIClient, user) -> None:
    """A text document is checked within its confirm: its owner's page hears it was taken, then its final
    state; the steps in between (50 ms of them) are coalesced away (PROGRESS_MIN_INTERVAL)."""
    created = create_ok(api, TEXT)
    upload(created, TEXT.body)
    with GroupEvents(user.id) as seen:
        assert api.post(confirm_url(created["id"])).status_code == 200
        events = seen.until_final(created["id"])
        time.sleep(0.3)  # anything published late would show up by now
        late = [event for event in seen.received if event["id"] == created["id"]][len(events) :]

    assert [(e["status"], e["stage"], e["progress"]) for e in events] == [
        ("PROCESSING", "queued", 0),
        ("READY", "done", 100),
    ]
    assert late == []


def test_every_step_is_published_when_asked(api: APIClient, user, settings) -> None:
    """PROGRESS_MIN_INTERVAL=0 records every step: the stages a slow file shows one by one."""
    settings.PROGRESS_MIN_INTERVAL = 0
    created = create_ok(api, TEXT)
    upload(created, TEXT.body)
    with GroupEvents(user.id) as seen:
        assert api.post(confirm_url(created["id"])).status_code == 200
        events = seen.until_final(created["id"])
    stages = ["queued", "downloading", "validating", "scanning", "storing", "done"]
    assert [e["stage"] for e in events] == stages
