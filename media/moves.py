"""Where a media's objects go: temp/ -> permanent/ when accepted, quarantine/ for malware, gone otherwise.

Every move copies first and deletes second, so a crash between the two leaves
a copy in both places, never in neither; running a move again is harmless.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from media import storage
from media.models import Media
from processing.sniff import Family


def original_key(media: Media, family: Family) -> str:
    return f"{media.permanent_prefix}original.{family.extension}"


def source_key(media: Media) -> str | None:
    """Where the uploaded bytes are now: still in temp/, or already moved by an earlier run."""
    if storage.head(media.temp_key) is not None:
        return media.temp_key
    # an earlier run moved it but died before READY recorded the key
    moved = storage.list_keys(f"{media.permanent_prefix}original.")
    return moved[0] if moved else None


def promote(media: Media, family: Family, *, source: str, etag: str, cleaned: Path | None = None) -> str:
    """Copy the upload to permanent/<id>/original.<ext> and drop the temp object; returns the new key.

    `source` is where the checked bytes were read (`source_key`): the temp object, or an original an
    earlier run already moved (then there is nothing left to move). Only the version that was checked
    (`etag`, from the download) is copied: the upload URL stays valid for a while, and bytes PUT again
    after the checks must never reach permanent/ unchecked. If they were, storage.Changed is raised and
    the job runs again, on the new bytes. `cleaned`, a local file made from the checked bytes, is
    uploaded instead of the copy.
    """
    key = original_key(media, family)
    if source == media.temp_key:
        # an original never changes under its key, like the renditions
        if cleaned is not None:
            storage.upload(
                cleaned, key, content_type=family.content_type, cache_control=settings.RENDITION_CACHE_CONTROL
            )
        else:
            storage.copy(
                media.temp_key,
                key,
                content_type=family.content_type,
                cache_control=settings.RENDITION_CACHE_CONTROL,
                if_match=etag,
                size=media.size,
            )
        storage.delete([media.temp_key])
    return key


def quarantine(media: Media) -> str:
    """Keep malware where moderators can inspect it, outside anything served to users."""
    key = f"quarantine/{media.id}"
    if storage.head(media.temp_key) is not None:
        storage.copy(media.temp_key, key, content_type="application/octet-stream")
    elif media.original_key:
        storage.copy(media.original_key, key, content_type="application/octet-stream")
    return key


def discard(media: Media) -> None:
    """Remove everything a rejected media left in temp/ and permanent/ (quarantine stays)."""
    storage.delete([media.temp_key])
    storage.delete_prefix(media.permanent_prefix)


def remove_all(media: Media) -> None:
    """Remove every stored object of the media: temp, permanent with its renditions, quarantine."""
    storage.delete([media.temp_key, f"quarantine/{media.id}"])
    storage.delete_prefix(media.permanent_prefix)
