"""The moderators' view: every media with its previews, errors and stored objects, and the
actions they need (retry FAILED media, delete with every stored object).
Queues and jobs: /admin/queues/ (web/queues_admin.py)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from media import jobs, selectors, storage, uploads
from media import outputs as declared_outputs
from media.models import Media, Status


@admin.register(Media)
class MediaAdmin(admin.ModelAdmin):
    list_display = [
        "preview",
        "filename",
        "kind",
        "status",
        "progress",
        "error_code",
        "owner",
        "human_size",
        "created_at",
    ]
    list_display_links = ["preview", "filename"]
    list_filter = ["status", "kind", "error_code", "created_at"]
    search_fields = ["filename", "id", "owner__username", "error_code", "error_message"]
    date_hierarchy = "created_at"
    list_select_related = ["owner"]
    list_per_page = 50
    actions = ["retry_failed", "rebuild_stale", "delete_with_objects"]
    readonly_fields = [
        "id",
        "owner",
        "kind",
        "status",
        "progress",
        "stage",
        "filename",
        "content_type",
        "detected_type",
        "human_size",
        "checksum_sha256",
        "upload_id",
        "part_size",
        "attempts",
        "error_code",
        "error_message",
        "error_detail_block",
        "outputs",
        "metadata",
        "phash",
        "duplicates",
        "created_at",
        "updated_at",
        "confirmed_at",
        "processing_started_at",
        "finished_at",
    ]
    fieldsets = [
        (None, {"fields": ["id", "owner", "filename", "kind", "status", "progress", "stage", "attempts"]}),
        (
            "Upload",
            {"fields": ["content_type", "detected_type", "human_size", "checksum_sha256", "upload_id", "part_size"]},
        ),
        ("Duplicates", {"fields": ["phash", "duplicates"]}),
        ("Outputs", {"fields": ["outputs", "metadata"]}),
        ("Error", {"fields": ["error_code", "error_message", "error_detail_block"]}),
        ("Times", {"fields": ["created_at", "confirmed_at", "processing_started_at", "finished_at", "updated_at"]}),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Media]:
        return super().get_queryset(request).prefetch_related("outputs")  # the previews

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # media arrive through the upload API

    def has_change_permission(self, request: HttpRequest, obj: Media | None = None) -> bool:
        return False  # state changes go through the lifecycle (actions), never by editing fields

    @admin.display(description="")
    def preview(self, media: Media) -> str:
        key = selectors.output_key(media, "thumbnail")
        if key is None:
            return "—"
        return format_html('<img src="{}" width="48" height="48" alt="" loading="lazy">', storage.presigned_get(key))

    @admin.display(description="size", ordering="size")
    def human_size(self, media: Media) -> str:
        return filesizeformat(media.size)

    @admin.display(description="error detail")
    def error_detail_block(self, media: Media) -> str:
        return format_html(
            "<pre style='white-space:pre-wrap;max-height:30em;overflow:auto'>{}</pre>", media.error_detail or "—"
        )

    @admin.display(description="stored objects")
    def outputs(self, media: Media) -> str:
        urls = selectors.media_urls(media)
        rows = [(name, url) for name, url in urls.items() if url and name != "sources"]
        rows += [
            (f"{source['type']} {source['width']} x {source['height']}", source["url"]) for source in urls["sources"]
        ]
        if media.quarantine_key:
            rows.append(
                (
                    "quarantined file (malware: handle with care)",
                    storage.presigned_get(media.quarantine_key, expire=300),
                )
            )
        links = format_html_join("", '<li><a href="{1}" rel="noreferrer" target="_blank">{0}</a></li>', rows)
        images = ""
        if urls.get("optimized"):
            images = format_html(
                '<p><img src="{}" style="max-width:480px;max-height:360px" alt=""></p>', urls["optimized"]
            )
        elif urls.get("thumbnail"):
            images = format_html('<p><img src="{}" alt=""></p>', urls["thumbnail"])
        return format_html("{}<ul>{}</ul>", images, links or format_html("<li>none</li>"))

    @admin.display(description="duplicates of the same owner")
    def duplicates(self, media: Media) -> str:
        rows = []
        if (same := selectors.duplicate_of(media)) is not None:
            rows.append(("the same bytes (SHA-256)", same))
        rows += [("looks the same (perceptual hash)", pk) for pk in selectors.near_duplicates(media)]
        links = [(label, reverse("admin:media_media_change", args=[pk]), pk) for label, pk in rows]
        items = format_html_join("", '<li>{0}: <a href="{1}">{2}</a></li>', links)
        return format_html("<ul>{}</ul>", items or mark_safe("<li>none</li>"))

    def has_retry_permission(self, request: HttpRequest) -> bool:
        # retrying is a change of state: the model's change permission (field edits stay disabled)
        return request.user.has_perm("media.change_media")

    @admin.action(description="Retry the selected FAILED (or stuck PROCESSING) media", permissions=["retry"])
    def retry_failed(self, request: HttpRequest, queryset: QuerySet[Media]) -> None:
        retried = sum(uploads.media_retry(media=media) is not None for media in queryset)
        skipped = queryset.count() - retried
        message = f"Queued {retried} for processing again; {skipped} were neither FAILED nor stuck."
        self.message_user(request, message, messages.INFO)

    @admin.action(description="Rebuild the stale renditions of the selected READY media", permissions=["retry"])
    def rebuild_stale(self, request: HttpRequest, queryset: QuerySet[Media]) -> None:
        """What `manage.py rebuild_renditions --for-real` does, for the selection."""
        stale = [media for media in queryset.filter(status=Status.READY) if declared_outputs.missing(media)]
        queued = sum(jobs.enqueue_now(media.id, media.kind, fill=True) for media in stale)
        self.message_user(request, f"Queued {queued} to rebuild; {queryset.count() - len(stale)} were up to date.")

    @admin.action(description="Delete the selected media and every stored object of them", permissions=["delete"])
    def delete_with_objects(self, request: HttpRequest, queryset: QuerySet[Media]) -> None:
        count = 0
        for media in queryset:
            uploads.media_delete(media=media)
            count += 1
        self.message_user(request, f"Deleted {count} media with their stored objects.", messages.SUCCESS)

    def delete_model(self, request: HttpRequest, obj: Media) -> None:
        uploads.media_delete(media=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Media]) -> None:
        for media in queryset:
            uploads.media_delete(media=media)

    def get_actions(self, request: HttpRequest) -> dict:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # ours removes the stored objects too
        return actions

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):
        extra_context = {**(extra_context or {}), "queues_url": reverse("admin-queues")}
        return super().changelist_view(request, extra_context)
