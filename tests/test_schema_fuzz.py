"""schemathesis against the published schema (/api/schema/), authenticated, over the real server: no
answer is a 5xx, and every answer matches the schema (status codes, content types, bodies). Bounded
(MAX_EXAMPLES per operation) so it takes well under a minute or two."""

from __future__ import annotations

from typing import Any

import pytest
import requests
import schemathesis
from axes.utils import reset as axes_reset
from django.core.cache import cache
from hypothesis import HealthCheck, given, settings
from rest_framework.authtoken.models import Token
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.test_ws_live import LiveServer, asgi_server  # noqa: F401 - the fixture

MAX_EXAMPLES = 15


@pytest.mark.slow
def test_the_api_answers_every_generated_request_as_its_schema_says(
    asgi_server: LiveServer,  # noqa: F811
    user: Any,
) -> None:
    headers = {"Authorization": f"Token {Token.objects.create(user=user).key}"}
    raw = requests.get(f"{asgi_server.url}/api/schema/?format=json", headers=headers, timeout=30)
    assert raw.status_code == 200
    schema = schemathesis.openapi.from_dict(raw.json())
    session = requests.Session()
    failures: list[str] = []
    try:
        _run(schema, asgi_server, session, headers, failures)
    finally:  # the generated logins count against this address: leave none of it to the next tests
        axes_reset(ip="127.0.0.1")
        cache.delete("throttle_auth_token_127.0.0.1")
    print(f"schemathesis: {sum(calls)} requests, {len(failures)} operations failing")
    assert failures == [], "\n\n".join(failures)


calls: list[int] = []


def _run(schema: Any, server: LiveServer, session: requests.Session, headers: dict, failures: list[str]) -> None:
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,  # the same requests every run: CI fails on a finding, never by chance
            suppress_health_check=list(HealthCheck),
        )
        def check(case: schemathesis.Case) -> None:
            calls.append(1)
            response = case.call(base_url=server.url, session=session, headers=headers)
            assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.status_code}"
            # data the schema allows may still be refused for what a schema cannot say (wrong credentials,
            # an empty file name): a 4xx is judged by the other checks, a 5xx by the line above
            case.validate_response(response, headers=headers, excluded_checks=[positive_data_acceptance])

        try:
            check()
        except (Exception, BaseExceptionGroup) as exc:  # gather every operation's failure, not only the first
            failures.append(f"{operation.label}: {str(exc)[:1500]}")
