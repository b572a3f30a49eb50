"""Input and output shapes of the API."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from django.conf import settings
from django.core.validators import ProhibitNullCharactersValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from media import selectors
from media.models import Kind, Media, Status
from processing.codes import ErrorCode, Stage


def enum_choices(enum: type[StrEnum]) -> list[tuple[str, str]]:
    """(value, name): the pairs drf-spectacular's ENUM_NAME_OVERRIDES derives from the enum, so the schema names it."""
    return [(member.value, member.name) for member in enum]


class FilenameField(serializers.CharField):
    """Any text: the upload service cleans it (NUL included, like every control character) rather
    than refusing a name an operating system or a buggy client produced."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.validators = [v for v in self.validators if not isinstance(v, ProhibitNullCharactersValidator)]


MULTIPART_HELP = (
    "Ask for a multipart upload (true) or a single PUT (false); by default files of at least MULTIPART_THRESHOLD "
    "bytes get a multipart upload."
)


class MediaCreateInput(serializers.Serializer):
    filename = FilenameField(max_length=20_000, trim_whitespace=False)
    content_type = serializers.CharField(max_length=127)
    size = serializers.IntegerField(min_value=0)
    checksum_sha256 = serializers.RegexField(
        r"^[0-9a-fA-F]{64}$",
        required=False,
        default="",
        help_text="Hex SHA-256 of the file; when given, the store refuses any other bytes (single PUT only).",
    )
    multipart = serializers.BooleanField(required=False, allow_null=True, help_text=MULTIPART_HELP)


class UploadRenewInput(serializers.Serializer):
    multipart = serializers.BooleanField(required=False, allow_null=True, help_text=MULTIPART_HELP)


class PartsSignInput(serializers.Serializer):
    part_numbers = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=settings.S3_MAX_PARTS),
        min_length=1,
        max_length=settings.MULTIPART_SIGN_BATCH,
        help_text=f"At most {settings.MULTIPART_SIGN_BATCH} part numbers per request.",
    )

    def validate_part_numbers(self, numbers: list[int]) -> list[int]:
        if len(set(numbers)) != len(numbers):
            raise serializers.ValidationError("Each part number may appear once.", code=ErrorCode.DUPLICATE_PART_NUMBER)
        return numbers


class CompletedPart(serializers.Serializer):
    part_number = serializers.IntegerField(min_value=1, max_value=settings.S3_MAX_PARTS)
    etag = serializers.CharField(max_length=200, help_text="The ETag the store answered to the part's PUT.")


class CompleteInput(serializers.Serializer):
    parts = CompletedPart(many=True, allow_empty=False, max_length=settings.S3_MAX_PARTS)

    def validate_parts(self, parts: list[dict[str, Any]]) -> list[tuple[int, str]]:
        numbers = [part["part_number"] for part in parts]
        if len(set(numbers)) != len(numbers):
            raise serializers.ValidationError("Each part number may appear once.", code=ErrorCode.DUPLICATE_PART_NUMBER)
        return [(part["part_number"], part["etag"]) for part in parts]


class SignedPart(serializers.Serializer):
    part_number = serializers.IntegerField()
    url = serializers.URLField()
    headers = serializers.DictField(child=serializers.CharField(), help_text="Send exactly these with the PUT.")


class PartsSignOutput(serializers.Serializer):
    parts = SignedPart(many=True)
    expires_at = serializers.DateTimeField(help_text="The URLs work until then; ask again for fresh ones.")


class StoredPart(serializers.Serializer):
    part_number = serializers.IntegerField()
    size = serializers.IntegerField()
    etag = serializers.CharField()


class PartsListOutput(serializers.Serializer):
    upload_id = serializers.CharField()
    part_size = serializers.IntegerField()
    part_count = serializers.IntegerField()
    parts = StoredPart(many=True, help_text="The parts already stored, by number.")


class MediaFilter(serializers.Serializer):
    status = serializers.ChoiceField(choices=Status.choices, required=False)
    kind = serializers.ChoiceField(choices=Kind.choices, required=False)


class ProblemDetail(serializers.Serializer):
    code = serializers.ChoiceField(choices=enum_choices(ErrorCode), help_text="Stable, machine-readable.")
    message = serializers.CharField(help_text="A sentence for the user.")
    field = serializers.CharField(required=False, help_text="The input field at fault, for invalid input.")


class ErrorResponse(serializers.Serializer):
    """The body of every error answer that is not a media (400, 401, 403, 404, 429)."""

    error = ProblemDetail()
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Every message per input field, for invalid input.",
    )


class UploadOutput(serializers.Serializer):
    """A single PUT (`method` PUT: url, headers) or a multipart upload (`method` MULTIPART: upload_id,
    part_size, part_count; part URLs come from POST /api/media/<id>/parts/)."""

    method = serializers.ChoiceField(choices=["PUT", "MULTIPART"])
    url = serializers.URLField(required=False)
    headers = serializers.DictField(child=serializers.CharField(), required=False)
    upload_id = serializers.CharField(required=False)
    part_size = serializers.IntegerField(required=False, help_text="Every part is this long but the last.")
    part_count = serializers.IntegerField(required=False)
    expires_at = serializers.DateTimeField()


class SourceOutput(serializers.Serializer):
    type = serializers.CharField(help_text="image/avif or image/webp: a <source type>.")
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    url = serializers.URLField()


class MediaUrls(serializers.Serializer):
    """`original`, one key per declared output (null until made; see docs/contract.md) and `sources`."""

    original = serializers.URLField(allow_null=True)
    sources = SourceOutput(many=True, help_text="The responsive widths, AVIF first, narrowest first: a <picture>.")
    subtitles = serializers.ListField(
        child=serializers.DictField(child=serializers.CharField()),
        help_text="The video's text tracks as WebVTT: [{language, url}].",
    )


class MediaOutput(serializers.ModelSerializer):
    stage = serializers.ChoiceField(choices=enum_choices(Stage), allow_blank=True, read_only=True)
    error = serializers.SerializerMethodField()
    urls = serializers.SerializerMethodField()
    playable = serializers.SerializerMethodField(
        help_text="urls.hls plays: the video is READY, or still PROCESSING with its first segments published."
    )
    duplicate_of = serializers.SerializerMethodField(
        help_text="The owner's earliest other upload of exactly the same bytes (SHA-256), or null."
    )
    near_duplicates = serializers.SerializerMethodField(
        help_text="Ids of the owner's images that look the same (perceptual hash), closest first."
    )

    class Meta:
        model = Media
        fields = [
            "id",
            "kind",
            "status",
            "progress",
            "stage",
            "filename",
            "content_type",
            "size",
            "created_at",
            "updated_at",
            "attempts",
            "error",
            "urls",
            "playable",
            "metadata",
            "duplicate_of",
            "near_duplicates",
        ]
        read_only_fields = fields

    def to_representation(self, media: Media) -> dict[str, Any]:
        """The fields above (which stay the schema), built by hand: DRF builds and deep-copies a ModelSerializer's
        fields for every instance it renders, a fifth of a confirm's CPU under load (bench/README.md).
        tests/test_api_shape.py holds this equal to DRF's own rendering."""
        return {
            "id": str(media.id),
            "kind": media.kind,
            "status": media.status,
            "progress": media.progress,
            "stage": media.stage,
            "filename": media.filename,
            "content_type": media.content_type,
            "size": media.size,
            "created_at": _DATETIME.to_representation(media.created_at) if media.created_at else None,
            "updated_at": _DATETIME.to_representation(media.updated_at) if media.updated_at else None,
            "attempts": media.attempts,
            "error": self.get_error(media),
            "urls": self.get_urls(media),
            "playable": self.get_playable(media),
            "metadata": media.metadata,
            "duplicate_of": self.get_duplicate_of(media),
            "near_duplicates": self.get_near_duplicates(media),
        }

    @extend_schema_field(ProblemDetail(allow_null=True))
    def get_error(self, media: Media) -> dict[str, str] | None:
        return media.error

    @extend_schema_field(MediaUrls)
    def get_urls(self, media: Media) -> dict[str, Any]:
        return selectors.media_urls(media, self.context.get("request"))

    @extend_schema_field(serializers.BooleanField())
    def get_playable(self, media: Media) -> bool:
        return selectors.playable(media)

    @extend_schema_field(serializers.UUIDField(allow_null=True))
    def get_duplicate_of(self, media: Media) -> str | None:
        return selectors.duplicate_of(media)

    @extend_schema_field(serializers.ListField(child=serializers.UUIDField()))
    def get_near_duplicates(self, media: Media) -> list[str]:
        return selectors.near_duplicates(media)


class MediaCreatedOutput(MediaOutput):
    upload = UploadOutput()

    class Meta(MediaOutput.Meta):
        fields = [*MediaOutput.Meta.fields, "upload"]
        read_only_fields = fields

    def to_representation(self, media: Media) -> dict[str, Any]:
        return {**super().to_representation(media), "upload": _UPLOAD.to_representation(media.upload)}


# Rendering is stateless: one instance of each serves every answer (their fields are built once).
_DATETIME = serializers.DateTimeField()
_UPLOAD = UploadOutput()
