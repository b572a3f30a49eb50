"""The HTTP API: thin adapters that parse, call the upload service, and shape the answer."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.defaults import bad_request as django_bad_request
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view, inline_serializer
from redis.exceptions import RedisError
from rest_framework import serializers, status
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.exceptions import APIException, NotFound, PermissionDenied, ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from media import multipart, storage, uploads
from media.errors import UploadError
from media.models import Media, Status
from processing.codes import ErrorCode
from web import login_guard
from web.serializers import (
    CompleteInput,
    ErrorResponse,
    MediaCreatedOutput,
    MediaCreateInput,
    MediaFilter,
    MediaOutput,
    PartsListOutput,
    PartsSignInput,
    PartsSignOutput,
    UploadRenewInput,
)

log = logging.getLogger(__name__)


def unavailable(code: ErrorCode, message: str) -> Response:
    """The one answer to an outage of a service the request needs: 503, try again in a while."""
    return Response(
        {"error": {"code": code, "message": message}},
        status=status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


RETRY_AFTER_SECONDS = 30


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Every error answer has one shape: {"error": {"code", "message"[, "field"]}}, and for
    invalid input also "fields": every message per field. Outages of Redis, the store or the
    database answer 503 with Retry-After."""
    if isinstance(exc, UploadError):
        if not exc.field:  # a conflict with the media's state, not a field's fault
            return Response({"error": {"code": exc.code, "message": exc.message}}, status=exc.status)
        error = {"code": exc.code, "message": exc.message, "field": exc.field}
        return Response({"error": error, "fields": {exc.field: [exc.message]}}, status=exc.status)
    # DRF answers Django's own 404 and 403 too, but leaves them in its {"detail"} shape: convert them first.
    if isinstance(exc, Http404):
        exc = NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = PermissionDenied()
    path = context.get("request") and context["request"].path
    if isinstance(exc, RedisError):
        log.warning("Redis failed during %s", path, exc_info=True)
        return unavailable(ErrorCode.QUEUE_UNAVAILABLE, "The service is busy right now; please try again shortly.")
    if isinstance(exc, storage.UNAVAILABLE):
        log.warning("object storage failed during %s", path, exc_info=True)
        return unavailable(
            ErrorCode.STORAGE_UNAVAILABLE, "File storage is not available right now; please try again shortly."
        )
    if isinstance(exc, OperationalError | InterfaceError):  # unreachable, restarting, "too many clients"
        log.warning("the database failed during %s", path, exc_info=True)
        return unavailable(
            ErrorCode.DATABASE_UNAVAILABLE, "The database is not available right now; please try again shortly."
        )
    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, APIException):
        return response
    if isinstance(exc, ValidationError) and isinstance(exc.detail, dict):
        field, messages = next(iter(exc.detail.items()))
        first = _leaves(messages)[0]
        response.data = {
            "error": {"code": getattr(first, "code", "invalid"), "message": str(first), "field": field},
            "fields": {name: [str(m) for m in _leaves(ms)] for name, ms in exc.detail.items()},
        }
    else:
        codes = exc.get_codes()
        response.data = {"error": {"code": codes if isinstance(codes, str) else "invalid", "message": str(exc.detail)}}
    return response


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Django's 400 (`handler400`), for what fails before a view runs: a body over DATA_UPLOAD_MAX_MEMORY_SIZE
    answers 413, and anything under /api/ gets the API's JSON error shape instead of an HTML page."""
    if isinstance(exception, RequestDataTooBig):
        error = {"code": ErrorCode.REQUEST_TOO_LARGE, "message": "The request body is too large."}
        return JsonResponse({"error": error}, status=413)
    if request.path.startswith("/api/"):
        error = {"code": ErrorCode.INVALID, "message": "The request could not be read."}
        return JsonResponse({"error": error}, status=400)
    return django_bad_request(request, exception)


def _leaves(detail: Any) -> list[Any]:
    """The messages of a field, also of a list's items or a nested object's fields ({0: [...]})."""
    if isinstance(detail, dict):
        return [leaf for value in detail.values() for leaf in _leaves(value)]
    if isinstance(detail, list):
        return [leaf for value in detail for leaf in _leaves(value)]
    return [detail]


class ScopedThrottle(ScopedRateThrottle):
    """DRF's scoped throttle, counting in the shared Redis cache; if Redis is down it lets requests
    through rather than refusing uploads: a rate limit is not worth an outage."""

    def allow_request(self, request: Request, view: APIView) -> bool:
        try:
            return super().allow_request(request, view)
        except RedisError:
            log.warning("throttle counters unavailable (Redis); request allowed", exc_info=True)
            return True


@extend_schema_view(
    post=extend_schema(
        responses={
            200: inline_serializer("TokenOutput", {"token": serializers.CharField()}),
            400: ErrorResponse,
            429: ErrorResponse,
        },
        summary="Exchange a username and password for an API token",
    )
)
class TokenApi(ObtainAuthToken):
    """POST username and password, get {"token"}; throttled per client address against guessing, and
    locked per account and address like the login forms (web/login_guard.py)."""

    throttle_classes = [ScopedThrottle]
    throttle_scope = "auth_token"

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response | HttpResponse:
        try:
            return super().post(request, *args, **kwargs)
        except ValidationError:
            # axes marks the request it refused; DRF hides that from axes' middleware, so answer here
            if getattr(request, "axes_locked_out", False):
                return login_guard.lockout(request, None, None)
            raise


def _own(request: Request, pk: Any) -> Media:
    """The user's own media; another user's id answers 404, exactly like an unknown one."""
    try:
        return Media.objects.get(pk=pk, owner=request.user)
    except Media.DoesNotExist:
        raise NotFound("There is no media with this id.") from None


def _valid(serializer: type[Serializer], request: Request) -> dict[str, Any]:
    """The request body, checked by the input serializer (a 400 naming the fields otherwise)."""
    data = serializer(data=request.data)
    data.is_valid(raise_exception=True)
    return data.validated_data


class MediaPagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 200


class ThrottledPost:
    """POST (a new media, a fresh upload) counts against the per-user THROTTLE_MEDIA_CREATE rate."""

    throttle_scope = "media_create"

    def get_throttles(self) -> list:
        return [ScopedThrottle()] if self.request.method == "POST" else []


class MediaListCreateApi(ThrottledPost, APIView):
    pagination_class = MediaPagination  # the schema shows the list's pages as they are sent

    @extend_schema(
        request=MediaCreateInput,
        responses={201: MediaCreatedOutput, 400: ErrorResponse, 429: ErrorResponse},
        summary="Start an upload",
    )
    def post(self, request: Request) -> Response:
        data = MediaCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        media, upload = uploads.media_create(owner=request.user, **data.validated_data)
        media.upload = upload
        return Response(MediaCreatedOutput(media, context={"request": request}).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        parameters=[OpenApiParameter("status", enum=Status.values), OpenApiParameter("kind")],
        responses={200: MediaOutput(many=True), 400: ErrorResponse, 404: ErrorResponse},  # 404: past the last page
        summary="The user's media, newest first",
    )
    def get(self, request: Request) -> Response:
        filters = MediaFilter(data=request.query_params)
        filters.is_valid(raise_exception=True)
        queryset = Media.objects.filter(owner=request.user, **filters.validated_data).order_by("-created_at")
        queryset = queryset.prefetch_related("outputs")  # every media's URLs
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(queryset, request, view=self)
        return paginator.get_paginated_response(MediaOutput(page, many=True, context={"request": request}).data)


class MediaDetailApi(APIView):
    @extend_schema(responses={200: MediaOutput, 404: ErrorResponse}, summary="One media")
    def get(self, request: Request, pk: Any) -> Response:
        return Response(MediaOutput(_own(request, pk), context={"request": request}).data)

    @extend_schema(responses={204: None, 404: ErrorResponse}, summary="Delete a media and every stored object of it")
    def delete(self, request: Request, pk: Any) -> Response:
        uploads.media_delete(media=_own(request, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


CONFIRM_STATUS = {
    Status.READY: status.HTTP_200_OK,
    Status.PROCESSING: status.HTTP_202_ACCEPTED,
    Status.REJECTED: status.HTTP_422_UNPROCESSABLE_ENTITY,
    Status.FAILED: status.HTTP_409_CONFLICT,  # processing broke; the body says why, retry/ is the way on
    Status.EXPIRED: status.HTTP_409_CONFLICT,
    Status.PENDING: status.HTTP_409_CONFLICT,  # upload_missing: still waiting for the bytes
}


def confirm_status(outcome: uploads.Confirmation) -> int:
    """The answer's status follows the media's state, so a repeated confirm answers like the first."""
    if outcome.unavailable:
        return status.HTTP_503_SERVICE_UNAVAILABLE
    if outcome.media.status == Status.REJECTED and outcome.media.error_code == ErrorCode.SIZE_MISMATCH:
        return status.HTTP_409_CONFLICT  # the contract's 409: the stored object is not what was declared
    return CONFIRM_STATUS[outcome.media.status]


class MediaConfirmApi(APIView):
    @extend_schema(
        request=None,
        responses={
            200: MediaOutput,
            202: MediaOutput,
            404: ErrorResponse,
            409: MediaOutput,
            422: MediaOutput,
            503: MediaOutput,
        },
        summary="Confirm the upload: audio and documents are checked now, images and videos queued",
    )
    def post(self, request: Request, pk: Any) -> Response:
        outcome = uploads.media_confirm(media=_own(request, pk))
        body = MediaOutput(outcome.media, context={"request": request}).data
        if outcome.error is not None:
            body["error"] = {"code": outcome.error.code, "message": outcome.error.message}
        code = confirm_status(outcome)
        response = Response(body, status=code)
        if code == status.HTTP_503_SERVICE_UNAVAILABLE:
            response["Retry-After"] = "30"
        return response


class MediaRetryApi(APIView):
    @extend_schema(
        request=None,
        responses={202: MediaOutput, 404: ErrorResponse, 409: MediaOutput},
        summary="Retry a FAILED media, or one stuck in PROCESSING",
    )
    def post(self, request: Request, pk: Any) -> Response:
        media = _own(request, pk)
        retried = uploads.media_retry(media=media)
        if retried is None:
            media.refresh_from_db()
            body = MediaOutput(media, context={"request": request}).data
            message = (
                f"Only FAILED media, or PROCESSING ones without progress for {settings.STUCK_PROCESSING_MINUTES}"
                f" minutes, can be retried; this one is {media.status}."
            )
            body["error"] = {"code": ErrorCode.NOT_FAILED, "message": message}
            return Response(body, status=status.HTTP_409_CONFLICT)
        return Response(MediaOutput(retried, context={"request": request}).data, status=status.HTTP_202_ACCEPTED)


# The answers of the upload calls besides success: bad input, not yours (or unknown), a conflict with its state.
REFUSALS = {400: ErrorResponse, 404: ErrorResponse, 409: ErrorResponse}


class MediaUploadApi(ThrottledPost, APIView):
    """The upload of a PENDING media: a fresh one (its URL expired, or the client starts over), or none."""

    @extend_schema(
        request=UploadRenewInput,
        responses={200: MediaCreatedOutput, **REFUSALS},
        summary="A fresh upload for a PENDING media (single PUT or a new multipart upload)",
    )
    def post(self, request: Request, pk: Any) -> Response:
        media = _own(request, pk)
        media.upload = multipart.upload_renew(media=media, multipart=_valid(UploadRenewInput, request).get("multipart"))
        return Response(MediaCreatedOutput(media, context={"request": request}).data)

    @extend_schema(
        responses={204: None, 404: ErrorResponse, 409: ErrorResponse},
        summary="Abort the upload of a PENDING media: its parts (or bytes) are dropped",
    )
    def delete(self, request: Request, pk: Any) -> Response:
        multipart.upload_abort(media=_own(request, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class MediaPartsApi(APIView):
    @extend_schema(
        request=PartsSignInput,
        responses={200: PartsSignOutput, **REFUSALS},
        summary="Presigned PUT URLs of parts of a multipart upload",
    )
    def post(self, request: Request, pk: Any) -> Response:
        media = _own(request, pk)  # another user's media answers 404 before its input is even read
        parts, expires_at = multipart.parts_sign(
            media=media, part_numbers=_valid(PartsSignInput, request)["part_numbers"]
        )
        return Response(PartsSignOutput({"parts": parts, "expires_at": expires_at}).data)

    @extend_schema(
        responses={200: PartsListOutput, 404: ErrorResponse, 409: ErrorResponse},
        summary="The parts already stored, to resume a multipart upload",
    )
    def get(self, request: Request, pk: Any) -> Response:
        return Response(PartsListOutput(multipart.parts_list(media=_own(request, pk))).data)


class MediaCompleteApi(APIView):
    @extend_schema(
        request=CompleteInput,
        responses={200: MediaOutput, **REFUSALS},
        summary="Complete a multipart upload once every part is stored (then confirm)",
    )
    def post(self, request: Request, pk: Any) -> Response:
        media = _own(request, pk)
        media = multipart.multipart_complete(media=media, parts=_valid(CompleteInput, request)["parts"])
        return Response(MediaOutput(media, context={"request": request}).data)
