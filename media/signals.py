"""What follows a user's or token's change: open WebSockets are told when their credential is revoked, so
they close within moments, and a deleted user's stored objects are removed (`uploads.owner_media_forget`).

A user deactivated or deleted closes all of their connections; a deleted
token closes the connections opened with it (named by its digest: the
channel layer never carries a credential). Sent after the commit, so a
rolled-back change closes nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_delete, post_save, pre_delete
from django.dispatch import receiver
from rest_framework.authtoken.models import Token

from media import uploads
from media.events import group_name, token_digest

log = logging.getLogger(__name__)


def _revoke(user_id: int, token: str | None = None) -> None:
    def send() -> None:
        layer = get_channel_layer()
        if layer is None:
            return
        try:
            async_to_sync(layer.group_send)(group_name(user_id), {"type": "auth.revoked", "token": token})
        except Exception:  # Redis down: the consumers' periodic recheck still closes them
            log.warning("could not announce the revocation for user %s", user_id, exc_info=True)

    transaction.on_commit(send)


@receiver(post_save, sender=settings.AUTH_USER_MODEL)
def user_saved(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    if not created and not instance.is_active:
        _revoke(instance.pk)


@receiver(pre_delete, sender=settings.AUTH_USER_MODEL)
def user_deleting(sender: Any, instance: Any, **kwargs: Any) -> None:
    uploads.owner_media_forget(owner=instance)  # before the cascade takes the media rows


@receiver(post_delete, sender=settings.AUTH_USER_MODEL)
def user_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    _revoke(instance.pk)


@receiver(post_delete, sender=Token)
def token_deleted(sender: Any, instance: Token, **kwargs: Any) -> None:
    _revoke(instance.user_id, token_digest(instance.key))
