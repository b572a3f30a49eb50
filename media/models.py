"""The Media row: one upload, from the presigned PUT to its renditions."""

import uuid

from django.conf import settings
from django.db import models

from processing import formats

# The kinds of the formats table, processing.formats.
Kind = models.TextChoices("Kind", [(kind.upper(), kind) for kind in formats.KINDS])


class Status(models.TextChoices):
    PENDING = "PENDING"  # row created, waiting for the client's PUT and confirm
    PROCESSING = "PROCESSING"  # confirmed; being validated and rendered
    READY = "READY"
    REJECTED = "REJECTED"  # the input is bad: final, never retried
    FAILED = "FAILED"  # processing broke after all retries: an operator can retry
    EXPIRED = "EXPIRED"  # never uploaded or confirmed in time


TERMINAL = frozenset({Status.READY, Status.REJECTED, Status.EXPIRED})


class Media(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="media")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    progress = models.PositiveSmallIntegerField(default=0)
    stage = models.CharField(max_length=32, blank=True, default="")

    filename = models.CharField(max_length=255, help_text="As the client named it; display only.")
    content_type = models.CharField(max_length=127, help_text="Declared by the client.")
    detected_type = models.CharField(max_length=127, blank=True, default="", help_text="Sniffed from the bytes.")
    size = models.PositiveBigIntegerField(help_text="Declared size in bytes, signed into the upload URL.")
    checksum_sha256 = models.CharField(
        max_length=64, blank=True, default="", help_text="Declared by the client, or computed by the worker."
    )
    phash = models.CharField(
        max_length=16, blank=True, default="", help_text="Perceptual hash of an image (64 bits, hex): near-duplicates."
    )
    # A multipart upload in progress: S3's upload id (empty once completed or aborted) and the part size
    # it was cut into (0 for a single PUT).
    upload_id = models.CharField(max_length=1024, blank=True, default="")
    part_size = models.PositiveBigIntegerField(default=0)

    # Storage keys of the accepted upload and of malware kept for moderators; renditions are MediaOutput rows.
    original_key = models.CharField(max_length=255, blank=True, default="")
    quarantine_key = models.CharField(max_length=255, blank=True, default="")

    metadata = models.JSONField(default=dict, blank=True)
    error_code = models.CharField(max_length=32, blank=True, default="")
    error_message = models.CharField(max_length=500, blank=True, default="")
    error_detail = models.TextField(blank=True, default="", help_text="Full technical text, for moderators.")
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Processing runs started.")

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    processing_started_at = models.DateTimeField(null=True, blank=True)
    # A video whose first HLS segments are out plays before READY: set then, cleared when a new run starts
    # over or the media ends REJECTED or FAILED (media.lifecycle).
    playable_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "media"
        indexes = [
            models.Index(fields=["owner", "-created_at"]),
            models.Index(fields=["status", "updated_at"]),
            models.Index(fields=["owner", "checksum_sha256"]),
        ]

    def __str__(self) -> str:
        return f"{self.filename} ({self.kind}, {self.status})"

    @property
    def temp_key(self) -> str:
        return f"temp/{self.id}"

    @property
    def permanent_prefix(self) -> str:
        return f"permanent/{self.id}/"

    @property
    def error(self) -> dict[str, str] | None:
        if not self.error_code:
            return None
        return {"code": self.error_code, "message": self.error_message}


class MediaOutput(models.Model):
    """One made output of a media (a rendition declared in media.outputs), in the manner of Wagtail's
    renditions: the unique pair means two runs cannot both record it, and what a media lacks is a query."""

    media = models.ForeignKey(Media, on_delete=models.CASCADE, related_name="outputs")
    name = models.CharField(max_length=32)
    key = models.CharField(max_length=255)
    spec = models.CharField(max_length=16, blank=True, default="", help_text="The settings it was made with (stale).")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["media", "name"], name="media_output_unique_name")]

    def __str__(self) -> str:
        return f"{self.name} of {self.media_id}"
