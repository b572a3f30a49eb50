"""HLS playback from a private bucket.

The playlists are served by Django, each URI in them rewritten: variant
playlists point back here, segments become presigned GETs. The playlist URL
carries a signature (`media.playback`).
"""

from __future__ import annotations

import posixpath
import re
from urllib.parse import urlencode

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from media import playback, selectors, storage
from media.models import Media, Status
from processing.hls import PLAYLIST_CONTENT_TYPE, rewrite_playlist

_SAFE_PATH = re.compile(r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_.-]+)*\.m3u8$")


@require_GET
def playlist(request: HttpRequest, pk: str, path: str) -> HttpResponse:
    media_id = str(pk)
    if not playback.verified(request.GET.get("sig", ""), media_id) or not _SAFE_PATH.match(path) or ".." in path:
        raise Http404
    media = Media.objects.filter(pk=media_id, status=Status.READY).first()
    master = selectors.output_key(media, "hls") if media is not None else None
    if master is None:
        raise Http404
    root = posixpath.dirname(master)  # permanent/<id>/hls
    try:
        text = storage.read(f"{root}/{path}").decode()
    except Exception as exc:
        raise Http404 from exc
    folder = posixpath.dirname(path)
    # A player fetches a VOD variant playlist once, then its segments as it plays: they must outlive
    # the playback itself, pauses included, not only the usual read-URL lifetime.
    segment_expiry = settings.AWS_QUERYSTRING_EXPIRE + 2 * int(media.metadata.get("duration") or 0)
    sig = request.GET["sig"]

    def resolve(uri: str) -> str:
        target = posixpath.normpath(posixpath.join(folder, uri))
        if target.startswith(".."):
            raise ValueError(f"playlist URI leaves the media's folder: {uri}")
        if target.endswith(".m3u8"):
            # relative to this playlist's own URL, so whatever scheme and host the player used hold
            return f"{posixpath.relpath(target, folder or '.')}?{urlencode({'sig': sig})}"
        return storage.presigned_get(f"{root}/{target}", expire=segment_expiry)

    body = rewrite_playlist(text, resolve)
    response = HttpResponse(body, content_type=PLAYLIST_CONTENT_TYPE)
    response["Cache-Control"] = "private, no-store"  # its URLs expire
    response["Access-Control-Allow-Origin"] = "*"  # players on other origins; the signature is the access check
    return response
