"""What happens to each kind of media once it is confirmed, step by step.

Each `run_*` takes a PROCESSING media, publishes progress at every step, and
either marks it READY or raises: `Rejected` for bad input, anything else for a
transient failure that the job layer retries. They are idempotent: the bytes
are read from temp/ or, if an earlier run already moved them, from the
original, and every output is written to the same key again.

The scan comes right after the sniff, before anything decodes the file, except for videos: there it
runs alongside the probe and the transcode (`_ScanAlongside`), and nothing is stored before it says clean.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import TracebackType

from django.conf import settings
from django.utils import timezone

from media import actions, engines, lifecycle, live_hls, moves, outputs, spool, storage, temp_sweep
from media.models import Kind, Media, Status
from processing import archives, audio, documents, scan, sniff
from processing.codes import ErrorCode, Stage
from processing.errors import Deferred, GiveUp, Rejected, Superseded

log = logging.getLogger(__name__)


def _step(media: Media, progress: int, stage: str) -> None:
    """Record a step (a write and an event); stop the run if the media was deleted (or finished elsewhere)
    meanwhile.

    Steps are coalesced: one comes at most every PROGRESS_MIN_INTERVAL seconds after the run's start or
    the last one recorded, so a small file goes from `queued` straight to its final state (a text
    document's six events in 50 ms were a quarter of the web process's time) while a long run still
    shows where it is. A step skipped is not lost news: the next one, or the end, says more.
    A READY media is being given outputs declared after it was made: its progress stays 100."""
    if media.status == Status.READY:
        return
    now = timezone.now()
    if (now - media.updated_at).total_seconds() < settings.PROGRESS_MIN_INTERVAL:
        return
    if not lifecycle.set_progress(media.id, progress, stage) and not lifecycle.is_processing(media.id):
        raise Superseded(f"media {media.id} is no longer PROCESSING")
    media.updated_at = now


def _source(media: Media) -> str:
    key = moves.source_key(media)
    if key is None:
        raise Rejected(ErrorCode.UPLOAD_MISSING, "The uploaded file is no longer in storage; please upload it again.")
    return key


def _sniff(media: Media, fileobj) -> sniff.Detection:
    detection = sniff.detect(fileobj, media.content_type)
    if detection.family is None:
        declared = sniff.describe(media.content_type)
        if detection.mime == "application/x-empty":
            raise Rejected(ErrorCode.CORRUPT_FILE, "The file is empty.")
        if detection.mime == sniff.UNRECOGNISED:
            # no format at all in the bytes: the file is garbled or damaged, not of some other type
            raise Rejected(
                ErrorCode.CORRUPT_FILE,
                f"The file is damaged or is not {declared}, so it cannot be read.",
                f"libmagic: {detection.mime}",
            )
        raise Rejected(
            ErrorCode.TYPE_MISMATCH,
            f"The file is {sniff.describe(detection.mime)}, not {declared} as declared.",
            f"libmagic: {detection.mime}",
        )
    return detection


def _scan(media: Media, fileobj, progress: int, family: sniff.Family) -> None:
    """clamd sees every kind listed in SCAN_KINDS (all by default): malware hides in pictures too.
    Zip-based documents are scanned whole and then part by part. (Videos: `_ScanAlongside`.)"""
    if media.kind not in settings.SCAN_KINDS:
        return
    _step(media, progress, Stage.SCANNING)
    _accept(_verdict(fileobj, family, engines.clamd(), engines.archive_limits()))


def _verdict(fileobj, family: sniff.Family, server: scan.Clamd, limits: archives.Limits) -> scan.ScanResult:
    """clamd's answer on the whole file, then on each part of a zip-based document. No Django here: it also
    runs on `_ScanAlongside`'s thread. Raises ScanUnavailable (clamd down), or Rejected (past a limit)."""
    verdict = scan.scan(fileobj, server)
    if verdict.clean and family.name in sniff.ZIP_BASED:
        verdict = archives.scan_parts(fileobj, limits, lambda part: scan.scan(part, server))
    return verdict


def _accept(verdict: scan.ScanResult) -> None:
    """Rejected unless clamd found the file clean."""
    if verdict.signature.startswith("Heuristics.Limits.Exceeded"):
        # clamd's AlertExceedsMax: the file goes past what it can unpack, so it was never fully checked
        message = "The file could not be fully checked for viruses and was not accepted."
        raise Rejected(ErrorCode.MALWARE_DETECTED, message, verdict.signature)
    if not verdict.clean:
        raise Rejected(ErrorCode.MALWARE_DETECTED, "The file contains malware and was not accepted.", verdict.signature)


class _ScanAlongside:
    """A video's scan, on a thread of its own while the main thread probes and transcodes: clamd's time grows
    with the bytes, and a video is big. Nothing made from the upload is stored (published, uploaded, the
    original promoted) before `passed()` or `wait()` says it scanned clean; a bad verdict raises from there
    exactly as `_scan` would. The thread reads the spool through its own handle and touches no Django.

    As a context manager it waits for the thread on the way out (so the spool is not removed under it), and
    a run that fails is reported with the scan's failure if it has one: malware that ffprobe also calls
    damaged is quarantined as malware, and a clamd outage waits, as when the scan came first."""

    def __init__(self, media: Media, path: Path, family: sniff.Family) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"scan-{media.id}")
        self._verdict: Future[scan.ScanResult] | None = None
        self._raised = False  # the verdict's failure was raised already
        if media.kind in settings.SCAN_KINDS:
            server, limits = engines.clamd(), engines.archive_limits()  # read here, from the settings
            self._verdict = self._pool.submit(self._scan, path, family, server, limits)

    @staticmethod
    def _scan(path: Path, family: sniff.Family, server: scan.Clamd, limits: archives.Limits) -> scan.ScanResult:
        with path.open("rb") as fileobj:
            return _verdict(fileobj, family, server, limits)

    def passed(self) -> bool:
        """True once the file scanned clean, False while clamd still reads it; raises like `_scan`."""
        if self._verdict is not None and not self._verdict.done():
            return False
        self.wait()
        return True

    def wait(self) -> None:
        """Until the verdict is in; raises like `_scan` (Rejected, or ScanUnavailable for an outage)."""
        if self._verdict is None:
            return
        try:
            _accept(self._verdict.result())
        except Exception:
            self._raised = True
            raise

    def __enter__(self) -> _ScanAlongside:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if exc is not None and not isinstance(exc, Exception):  # the worker is going away: no waiting
            self._pool.shutdown(wait=False, cancel_futures=True)
            return
        self._pool.shutdown(wait=True)
        if exc is not None and not self._raised and not isinstance(exc, Superseded):
            self.wait()  # the scan's own failure, if any, is the run's (this one stays as its context)


def _finish(media: Media, made: dict[str, str], spooled: spool.Spooled, **fields) -> None:
    """READY with the outputs `made` (name -> key), unless the media was deleted meanwhile: then remove
    what this run wrote. A READY media only gains the outputs; its other fields stay as they are.

    The SHA-256 of the bytes is recorded where the client did not declare it (a declared one was
    enforced by the store), so exact duplicates are found for every upload."""
    if not media.checksum_sha256:
        fields["checksum_sha256"] = spooled.sha256()
    if media.status == Status.READY:
        finished = lifecycle.add_outputs(media.id, made)
    else:
        finished = lifecycle.mark_ready(media.id, outputs=made, **fields)
        if finished is not None:
            temp_sweep.schedule(media)
    if finished is None:
        actions.drop_if_deleted(media=media)


def run_inline(media: Media, *, confirming: bool = False) -> None:
    """Audio and documents: sniff, scan, probe (audio), move to permanent/, READY.

    `confirming`: this runs inside the confirm request, whose time is bounded: audio longer than
    AUDIO_INLINE_MAX_DURATION raises Deferred once its headers are read, and the queue takes it over
    (progress events follow its decode there)."""
    # confirm has just found the upload in temp/ (uploads.media_confirm): no second HEAD to look for it
    key = media.temp_key if confirming else _source(media)
    _step(media, 10, Stage.DOWNLOADING)
    with spool.fetch(key, size=media.size) as spooled:
        _step(media, 30, Stage.VALIDATING)
        detection = _sniff(media, spooled.file)
        _scan(media, spooled.file, 50, detection.family)
        made: dict[str, str] = {}
        if media.kind == Kind.AUDIO:
            _step(media, 60, Stage.PROBING)
            tools = engines.ffmpeg_tools()
            metadata = audio.read_headers(spooled.path(), ffprobe=tools["ffprobe"])
            if confirming and metadata["duration"] > settings.AUDIO_INLINE_MAX_DURATION:
                raise Deferred(f"{metadata['duration']:.0f} s of audio is over the confirm's budget")
            report = _rising(media, start=60, span=25, stage=Stage.PROBING)
            audio.check_whole(spooled.path(), metadata["duration"], ffmpeg=tools["ffmpeg"], on_progress=report)
            if wanted := [output for output in outputs.missing(media) if output.builder == "waveform"]:
                _step(media, 86, Stage.PROBING)
                made = _waveform(media, spooled.path(), wanted)
        else:
            metadata = documents.describe(spooled.file, detection.family)
            if preview := next((o for o in outputs.missing(media) if o.builder == "preview"), None):
                with spool.workdir() as work:
                    documents.render_preview(spooled.path(), work / preview.filename, engines.preview_spec())
                    made = _upload_outputs(media, [(preview, work / preview.filename)])
        _step(media, 90, Stage.STORING)
        original = moves.promote(media, detection.family, source=key, etag=spooled.etag)
        _finish(media, made, spooled, original_key=original, detected_type=detection.mime, metadata=metadata)


def _waveform(media: Media, source: Path, wanted: list[outputs.Output]) -> dict[str, str]:
    """The waveform outputs the media lacks, from one decode of the audio."""
    from processing import waveform

    with spool.workdir() as work:
        waveform.make_waveform(source, work, engines.waveform_spec())
        return _upload_outputs(media, [(output, work / output.filename) for output in wanted])


def run_image(media: Media) -> None:
    """Images: sniff, decode (header limits first), the missing renditions, move the original, upload, READY."""
    from processing import image_location, image_original, images  # Pillow and its plugins load in workers only

    wanted = [output for output in outputs.missing(media) if output.builder == "image"]
    key = _source(media)
    _step(media, 10, Stage.DOWNLOADING)
    with spool.fetch(key, size=media.size, to_disk=True) as spooled, spool.workdir() as work:
        _step(media, 20, Stage.VALIDATING)
        detection = _sniff(media, spooled.file)
        _scan(media, spooled.file, 25, detection.family)
        # render_image checks the header limits itself before decoding a pixel: no separate probe,
        # which would open and parse the file a second time
        _step(media, 30, Stage.THUMBNAIL)
        result = images.render_image(
            spooled.path(),
            work,
            engines.image_spec(),
            [output.rendition() for output in wanted],
            # the larger renditions are the long step; clients know it, once, as optimizing the image
            on_stage=lambda name: None if media.stage == Stage.OPTIMIZED else _optimizing(media),
        )
        _step(media, 80, Stage.UPLOADING)
        spooled.sha256()  # of the bytes as uploaded, before the original is rewritten
        cleaned = image_original.clean_original(spooled.path(), work / "original", detection.family.name)
        # the position is taken out of the original only when it is first stored (a fill run reads it back)
        if settings.IMAGE_STRIP_LOCATION and key == media.temp_key:
            target = cleaned or spooled.path()
            if image_location.strip_location(target):
                cleaned = target
        original = moves.promote(media, detection.family, source=key, etag=spooled.etag, cleaned=cleaned)
        made = _upload_outputs(media, [(output, result.files[output.name]) for output in wanted])
        metadata = dict(result.metadata)
        phash = metadata.pop("phash")
        _finish(
            media, made, spooled, original_key=original, detected_type=detection.mime, metadata=metadata, phash=phash
        )


def _optimizing(media: Media) -> None:
    _step(media, 50, Stage.OPTIMIZED)
    media.stage = Stage.OPTIMIZED


def _upload_outputs(media: Media, files: list[tuple[outputs.Output, Path]]) -> dict[str, str]:
    """Upload each file once: outputs that came out the same (twins, see processing.images) share its key."""
    keys: dict[Path, str] = {}
    for output, path in files:
        if path not in keys:
            keys[path] = output.key(media)
            _upload(path, keys[path], output.content_type)
    return {output.name: keys[path] for output, path in files}


def run_video(media: Media) -> None:
    """Videos: sniff, then the scan on its own thread (`_ScanAlongside`) while this one probes (caps before
    decoding) and makes the one-pass HLS ladder, published as it is written (playable from its first
    segments, `media.live_hls`) but only once the whole file scanned clean. Then subtitles, the thumbnail and
    the storyboard, READY (each output only if the media lacks it).

    ffprobe and ffmpeg thus read the bytes before clamd's verdict: they run sandboxed (demuxer and protocol
    allow-lists, time and pixel bounds, their own process group: `processing.ffmpeg`), and nothing derived
    from the upload is stored where anyone can fetch it, nor the original promoted, before it scanned clean."""
    from processing import storyboard, subtitles, video

    wanted = {output.builder: output for output in outputs.missing(media)}
    spec = engines.video_spec()
    key = _source(media)
    _step(media, 5, Stage.DOWNLOADING)
    with spool.fetch(key, size=media.size, to_disk=True) as spooled, spool.workdir() as work:
        _step(media, 10, Stage.VALIDATING)
        detection = _sniff(media, spooled.file)
        with _ScanAlongside(media, spooled.path(), detection.family) as scanned:
            info = video.probe_video(spooled.path(), spec)
            # ffmpeg gets time in proportion to the clip (2x realtime is typical here: bench/README.md),
            # within the job's own limit; a clip that needs more fails at once: a retry would time out too
            spec = dataclasses.replace(spec, timeout=min(spec.timeout, 300 + 4 * info.duration))
            uploads: list[tuple[Path, str, str]] = []
            metadata = info.metadata()
            if playlist := wanted.get("hls"):
                _step(media, 15, Stage.TRANSCODING)
                folder = playlist.key(media).rsplit("/", 1)[0]  # permanent/<id>/hls: the master's own folder
                published = live_hls.LivePublisher(
                    work / "hls", folder, on_playable=lambda: lifecycle.mark_playable(media.id, metadata=metadata)
                )
                report = _rising(media, start=15, span=75, stage=Stage.TRANSCODING)

                def progress(done: float) -> None:
                    if scanned.passed():  # nothing is published before; a bad verdict raises, ffmpeg is killed
                        published.sync()
                    report(done)

                try:
                    with published:
                        result = video.transcode_hls(spooled.path(), work / "hls", info, spec, on_progress=progress)
                        tracks, skipped = subtitles.add_to_hls(spooled.path(), result.out_dir, info.duration, spec)
                        _wait_for_scan(media, scanned, 90)
                        published.sync()  # the rest of the ladder, the subtitles, and the playlists as VOD
                except BaseException as exc:
                    _withdraw(media, folder)
                    if isinstance(exc, video.TranscodeError) and exc.reason == "timeout":
                        raise GiveUp(exc.message, exc.detail) from exc
                    raise
                metadata["subtitles"] = [
                    {"language": track.language, "file": f"{subtitles.SUBS}/{track.path.name}"} for track in tracks
                ]
                if skipped:  # the video is fine without them; the owner sees which tracks were left out and why
                    metadata["subtitles_skipped"] = [{"codec": s.codec, "reason": s.reason} for s in skipped]
                metadata["renditions"] = [f"{r.width}x{r.height}" for r in result.renditions]
            # the previews after the ladder: they are stored with READY anyway, and playing cannot wait
            if thumbnail := wanted.get("video_thumbnail"):
                _step(media, 91, Stage.THUMBNAIL)
                video.make_thumbnail(spooled.path(), work / thumbnail.filename, info, spec)
                uploads.append((work / thumbnail.filename, thumbnail.key(media), thumbnail.content_type))
            if board := wanted.get("storyboard"):
                _step(media, 92, Stage.THUMBNAIL)  # scrubbing previews, like the thumbnail: no stage of their own
                made = storyboard.make_storyboard(spooled.path(), work, info, engines.storyboard_spec(), spec)
                sprite_key = f"{board.key(media).rsplit('/', 1)[0]}/{storyboard.SPRITE}"
                uploads += [(made.vtt, board.key(media), board.content_type), (made.sprite, sprite_key, "image/webp")]
            _wait_for_scan(media, scanned, 93)  # a run without the ladder (outputs declared later) waits here
        _step(media, 94, Stage.UPLOADING)
        original = moves.promote(media, detection.family, source=key, etag=spooled.etag)
        with ThreadPoolExecutor(max_workers=8) as pool:  # many small segments: upload in parallel
            for done in [pool.submit(_upload, *item) for item in uploads]:
                done.result()
        made = {output.name: output.key(media) for output in wanted.values()}
        _finish(media, made, spooled, original_key=original, detected_type=detection.mime, metadata=metadata)


def _wait_for_scan(media: Media, scanned: _ScanAlongside, progress: int) -> None:
    """The verdict, before anything is stored; a step says so when the video is done first (a big file, a
    slow clamd)."""
    if not scanned.passed():
        _step(media, progress, Stage.SCANNING)
        scanned.wait()


def _withdraw(media: Media, folder: str) -> None:
    """A half-published ladder is neither offered nor kept: a run that fails leaves only the upload."""
    lifecycle.withdraw_playable(media.id)
    try:
        storage.delete_prefix(f"{folder}/")
    except Exception:  # the store is what failed, likely: the next run overwrites, REJECTED or a purge removes
        log.warning("could not remove the half-published ladder of media %s", media.id, exc_info=True)


def _rising(media: Media, *, start: int, span: int, stage: str) -> Callable[[float], None]:
    """A progress callback (0..1) that records a step only when the whole percentage rises: ffmpeg
    reports several times a second, and an unchanged percentage is no news to the client."""
    last = start

    def report(done: float) -> None:
        nonlocal last
        value = start + int(done * span)
        if value > last:
            last = value
            _step(media, value, stage)  # raising here kills ffmpeg: nobody waits for this video anymore

    return report


def _upload(path: Path, key: str, content_type: str) -> None:
    """Renditions never change under their key: cache them for good."""
    storage.upload(path, key, content_type=content_type, cache_control=settings.RENDITION_CACHE_CONTROL)


PIPELINES = {
    Kind.AUDIO: run_inline,
    Kind.DOCUMENT: run_inline,
    Kind.IMAGE: run_image,
    Kind.VIDEO: run_video,
}
