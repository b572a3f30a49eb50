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
from media.models import Media
from processing.hls import PLAYLIST_CONTENT_TYPE, rewrite_playlist
from processing.storyboard import SPRITE

_SAFE_PATH = re.compile(r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_.-]+)*\.m3u8$")


@require_GET
def playlist(request: HttpRequest, pk: str, path: str) -> HttpResponse:
    if not _SAFE_PATH.match(path) or ".." in path:
        raise Http404
    media, master = _signed_output(request, pk, "hls")
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

    return _signed_response(rewrite_playlist(text, resolve), PLAYLIST_CONTENT_TYPE)


@require_GET
def storyboard(request: HttpRequest, pk: str) -> HttpResponse:
    """The storyboard's WebVTT with its sprite sheet's name turned into a presigned GET (fragments kept)."""
    media, key = _signed_output(request, pk, "storyboard")
    sprite = storage.presigned_get(posixpath.join(posixpath.dirname(key), SPRITE))
    text = storage.read(key).decode()
    return _signed_response(text.replace(f"{SPRITE}#", f"{sprite}#"), "text/vtt")


def _signed_output(request: HttpRequest, pk: str, name: str) -> tuple[Media, str]:
    """The media and the key of its output `name`, if the URL's signature is good; else 404. Outputs of
    READY media only, but the HLS ladder as soon as it plays (published early, still PROCESSING)."""
    media_id = str(pk)
    if not playback.verified(request.GET.get("sig", ""), media_id):
        raise Http404
    media = Media.objects.filter(pk=media_id).first()
    key = None
    if media is not None:
        key = selectors.hls_key(media) if name == "hls" else selectors.output_key(media, name)
    if media is None or key is None:
        raise Http404
    return media, key


def _signed_response(body: str, content_type: str) -> HttpResponse:
    response = HttpResponse(body, content_type=content_type)
    response["Cache-Control"] = "private, no-store"  # its URLs expire
    response["Access-Control-Allow-Origin"] = "*"  # players on other origins; the signature is the access check
    return response
