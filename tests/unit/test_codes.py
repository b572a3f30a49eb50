"""Error codes and stages are enums, and the OpenAPI schema publishes them under their names."""

from __future__ import annotations

from drf_spectacular.generators import SchemaGenerator

from processing.codes import ErrorCode, Stage


def test_the_schema_publishes_the_codes_and_stages() -> None:
    schemas = SchemaGenerator().get_schema(request=None, public=True)["components"]["schemas"]
    assert schemas["ErrorCode"]["enum"] == [code.value for code in ErrorCode]
    assert schemas["Stage"]["enum"] == [stage.value for stage in Stage]
    assert {"$ref": "#/components/schemas/Stage"} in schemas["MediaOutput"]["properties"]["stage"]["oneOf"]
    assert schemas["ProblemDetail"]["properties"]["code"]["allOf"] == [{"$ref": "#/components/schemas/ErrorCode"}]


def test_codes_compare_and_serialise_as_their_values() -> None:
    assert ErrorCode.TOO_LARGE == "too_large" and f"{ErrorCode.TOO_LARGE}" == "too_large"
    assert Stage.DONE == "done"
