"""Outputs are data: one declaration (no migration, no other edit) and a new upload gets the output,
an existing READY media gets it by re-running its pipeline (`manage.py fill_outputs`)."""

from __future__ import annotations

import io
from collections.abc import Iterator

import django_rq
import pytest
from django.core.management import call_command
from PIL import Image
from rest_framework.test import APIClient
from rq import Queue

from media import outputs, storage
from media.models import Kind, Media, Status
from tests import image_samples
from tests.api_flow import download, get_media, run_worker, submit
from tests.helpers import clear_queue

pytestmark = pytest.mark.django_db(transaction=True)

THUMB64 = outputs.Output("thumb64", frozenset({Kind.IMAGE}), "thumb64.webp", "image/webp", "image", "cover", 64)


@pytest.fixture
def images_queue(settings, tmp_path) -> Iterator[Queue]:
    settings.SPOOL_DIR = tmp_path / "spool"
    queue = django_rq.get_queue("images")
    clear_queue(queue)
    yield queue
    clear_queue(queue)


def upload_image(api: APIClient, queue: Queue, name: str) -> str:
    media_id = submit(api, filename=name, content_type="image/jpeg", body=image_samples.jpeg(320, 240))
    run_worker(queue)
    assert get_media(api, media_id)["status"] == Status.READY
    return media_id


def square_of(url: str) -> tuple[int, int]:
    with Image.open(io.BytesIO(download(url).content)) as img:
        assert img.format == "WEBP"
        return img.size


def test_a_declared_output_is_made_for_new_uploads_and_filled_in_for_ready_ones(
    api: APIClient, images_queue: Queue, monkeypatch, capsys
) -> None:
    before = upload_image(api, images_queue, "before.jpg")
    assert "thumb64" not in get_media(api, before)["urls"]

    monkeypatch.setattr(outputs, "OUTPUTS", (*outputs.OUTPUTS, THUMB64))  # the declaration, and nothing else

    # the media made before it lacks it: listed with null, and offered to the fill command
    assert get_media(api, before)["urls"]["thumb64"] is None
    call_command("fill_outputs")
    assert before in capsys.readouterr().out
    assert images_queue.count == 0  # a dry run queues nothing

    after = upload_image(api, images_queue, "after.jpg")
    urls = get_media(api, after)["urls"]
    assert square_of(urls["thumb64"]) == (64, 64)
    assert square_of(urls["thumbnail"]) == (150, 150)  # the declared ones are still made
    assert set(urls) >= {"original", "thumbnail", "optimized", "hls", "thumb64"}

    untouched = Media.objects.get(pk=before)
    call_command("fill_outputs", "--for-real")
    assert "queued 1" in capsys.readouterr().out  # only the one that lacks it
    run_worker(images_queue)

    filled = Media.objects.get(pk=before)
    assert square_of(get_media(api, before)["urls"]["thumb64"]) == (64, 64)
    assert storage.head(f"permanent/{before}/thumb64.webp") is not None
    # the rest of it is as it was: the same status, progress, metadata and outputs, one row each
    assert (filled.status, filled.progress, filled.metadata) == (Status.READY, 100, untouched.metadata)
    assert {"optimized", "thumb64", "thumbnail", "avif_320", "webp_2048"} <= set(
        filled.outputs.values_list("name", flat=True)
    )
    call_command("fill_outputs", "--for-real")
    assert "queued 0" in capsys.readouterr().out


def test_the_migration_turns_the_key_columns_into_rows(user) -> None:
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    executor.migrate([("media", "0001_initial")])
    try:
        OldMedia = executor.loader.project_state([("media", "0001_initial")]).apps.get_model("media", "Media")
        common = {"owner_id": user.id, "status": "READY", "content_type": "video/mp4", "size": 1}
        video = OldMedia.objects.create(
            kind="video",
            filename="v.mp4",
            thumbnail_key="permanent/v/thumb.webp",
            hls_key="permanent/v/hls/master.m3u8",
            **common,
        )
        image = OldMedia.objects.create(
            kind="image",
            filename="i.jpg",
            thumbnail_key="permanent/i/thumb.webp",
            optimized_key="permanent/i/optimized.webp",
            **common,
        )
        document = OldMedia.objects.create(kind="document", filename="d.pdf", **common)
        executor = MigrationExecutor(connection)
        executor.migrate([("media", "0002_media_outputs")])
    finally:
        MigrationExecutor(connection).migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    def made(media_id) -> dict[str, str]:
        return dict(Media.objects.get(pk=media_id).outputs.values_list("name", "key"))

    assert made(video.id) == {"thumbnail": "permanent/v/thumb.webp", "hls": "permanent/v/hls/master.m3u8"}
    assert made(image.id) == {"thumbnail": "permanent/i/thumb.webp", "optimized": "permanent/i/optimized.webp"}
    assert made(document.id) == {}


def test_a_changed_setting_makes_only_the_renditions_it_affects_stale_and_rebuilds_just_those(
    api: APIClient, images_queue: Queue, settings, django_user_model, client, capsys
) -> None:
    settings.IMAGE_WIDTHS = [160]
    media_id = upload_image(api, images_queue, "photo.jpg")
    media = Media.objects.get(pk=media_id)
    rows = {row.name: (row.spec, row.created_at) for row in media.outputs.all()}
    assert set(rows) == {"thumbnail", "optimized", "avif_160", "webp_160"} and all(spec for spec, _ in rows.values())
    call_command("rebuild_renditions")
    assert "dry run: 0 have stale" in capsys.readouterr().out

    settings.IMAGE_AVIF_QUALITY = 30  # only the AVIF widths depend on it
    before = download(get_media(api, media_id)["urls"]["sources"][0]["url"]).content
    call_command("rebuild_renditions")
    out = capsys.readouterr().out
    assert f"{media_id} image: photo.jpg: avif_160" in out and "dry run: 1 have stale" in out
    assert images_queue.count == 0  # a dry run queues nothing

    call_command("rebuild_renditions", "--for-real")
    assert "queued 1 of 1" in capsys.readouterr().out
    run_worker(images_queue)
    after = {row.name: (row.spec, row.created_at) for row in Media.objects.get(pk=media_id).outputs.all()}
    assert after["avif_160"][0] != rows["avif_160"][0]  # rebuilt under the new settings
    assert {name: after[name] for name in ("thumbnail", "optimized", "webp_160")} == {
        name: rows[name] for name in ("thumbnail", "optimized", "webp_160")
    }  # the others were not touched
    rebuilt = download(get_media(api, media_id)["urls"]["sources"][0]["url"]).content
    assert len(rebuilt) < len(before)  # lower quality, smaller file: really made again
    assert Media.objects.get(pk=media_id).status == Status.READY

    # from the admin: a crop setting makes the thumbnail stale; the action queues the media
    settings.IMAGE_THUMB_CROP = "centre"
    client.force_login(django_user_model.objects.create_superuser("mod", "mod@example.com", "pw"))
    answer = client.post(
        "/admin/media/media/", {"action": "rebuild_stale", "_selected_action": [media_id]}, follow=True
    )
    assert b"Queued 1 to rebuild" in answer.content
    run_worker(images_queue)
    assert outputs.missing(Media.objects.get(pk=media_id)) == ()
