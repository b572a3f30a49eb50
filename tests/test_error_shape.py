"""One error shape everywhere: parse errors of any depth answer 400, oversized bodies 413, and an
unreachable database 503 with Retry-After, each as the API's JSON error, never a 500 or an HTML page."""

from __future__ import annotations

import json

import pytest
from django.db import connection

from processing.codes import ErrorCode

CREATE = "/api/media/"


@pytest.mark.django_db
def test_json_nested_a_thousand_levels_deep_is_a_parse_error(api) -> None:
    body = "[" * 1000 + "]" * 1000
    answer = api.post(CREATE, data=body, content_type="application/json")
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == ErrorCode.PARSE_ERROR
    assert "nested too deeply" in answer.json()["error"]["message"]
    # an object as deep too, and a merely deep (but parseable) one is an ordinary field error
    deep_object = '{"a":' * 5000 + "1" + "}" * 5000
    assert api.post(CREATE, data=deep_object, content_type="application/json").status_code == 400
    shallow = json.dumps({"filename": [[[["x"]]]], "content_type": "image/png", "size": 1})
    answer = api.post(CREATE, data=shallow, content_type="application/json")
    assert answer.status_code == 400 and answer.json()["error"]["field"] == "filename"


@pytest.mark.django_db
def test_a_body_over_the_limit_answers_413_in_the_json_shape(api, settings) -> None:
    body = json.dumps({"filename": "a.png", "content_type": "image/png", "size": 1, "pad": "x" * 3_000_000})
    assert len(body) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    answer = api.post(CREATE, data=body, content_type="application/json")
    assert answer.status_code == 413
    assert answer["Content-Type"] == "application/json"
    assert answer.json() == {"error": {"code": "request_too_large", "message": "The request body is too large."}}
    # a form body too (read by the CSRF check before any view runs)
    form = api.post(CREATE, data={"pad": "x" * 3_000_000})
    assert form.status_code == 413 and form.json()["error"]["code"] == "request_too_large"


@pytest.mark.django_db(transaction=True)
def test_an_unreachable_database_answers_503_with_retry_after(api) -> None:
    # FAULT INJECTION: the shared PostgreSQL must not be stopped or filled up with connections (other runs
    # use it), so the connection pool is built again pointed at a closed port: it raises the
    # OperationalError (a pool timeout) that an exhausted pool, "too many clients" and a restarting server
    # raise too.
    api.get(CREATE)  # the token's user is created and the connection open
    real_port = connection.settings_dict["PORT"]
    pool = connection.settings_dict["OPTIONS"].get("pool")
    real_timeout = pool.get("timeout") if isinstance(pool, dict) else None
    connection.close()
    connection.close_pool()  # a no-op without a pool (SQLite, DB_POOL_MAX_SIZE=0)
    connection.settings_dict["PORT"] = "1"
    if isinstance(pool, dict):
        pool["timeout"] = 1  # seconds the request waits for a connection the pool cannot make
    try:
        answer = api.get(CREATE)
        assert answer.status_code == 503
        assert int(answer["Retry-After"]) > 0
        assert answer.json()["error"]["code"] == ErrorCode.DATABASE_UNAVAILABLE
    finally:
        connection.close()
        connection.close_pool()
        connection.settings_dict["PORT"] = real_port
        if isinstance(pool, dict):
            pool["timeout"] = real_timeout
    assert api.get(CREATE).status_code == 200
