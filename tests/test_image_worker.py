"""Images end to end: the API, a real RQ worker, Redis, SeaweedFS and the Channels layer.

Every test uploads the way a client does (create, PUT with the returned URL and
headers only, confirm), lets a burst worker run the job in this process, then
reads the media back through the API and downloads what its presigned URLs
point at. Nothing is faked.

Generated inputs are small (tests/image_samples.py); real camera and phone
files come from ../shared/corpus, and the tests that need them skip with the
reason when it is absent.
"""

from __future__ import annotations

import io
import resource
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import django_rq
import pytest
from django.conf import settings
from PIL import Image, ImageOps
from rest_framework.test import APIClient
from rq import Queue

from media import jobs, outputs, storage
from media.models import Media, Status
from tests import image_samples
from tests.api_flow import NOTHING, create, download, get_media, keys_of, run_worker, spool_files, submit
from tests.helpers import GroupEvents, clear_queue, stored_keys, webp_chunks
from tests.image_samples import ImageCase

pytestmark = pytest.mark.django_db(transaction=True)

# Chunks that carry metadata in a WebP file; no rendition may have any (GPS lives in EXIF and XMP).
METADATA_CHUNKS = {b"EXIF", b"XMP ", b"ICCP"}
BASE83 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~"
# Words that only appear in text meant for developers; a user-facing message has none of them.
DEVELOPER_WORDS = ("Traceback", "Error", "Exception", "errno", "PIL", "libmagic", "/tmp", "spool", "\n")


# --- the client's side and the worker -------------------------------------------------------


@pytest.fixture
def images_queue(settings, tmp_path: Path) -> Iterator[Queue]:
    """The `images` queue, empty before and after; temporary files go under tmp_path so a test can see them."""
    settings.SPOOL_DIR = tmp_path / "spool"
    queue = django_rq.get_queue("images")
    clear_queue(queue)
    yield queue
    clear_queue(queue)


# --- what a rendition must look like ---------------------------------------------------------


def assert_no_metadata(data: bytes) -> None:
    if data[4:8] != b"ftyp":  # AVIF (an ISO box file): Pillow's reading below says what it carries
        assert not METADATA_CHUNKS & set(webp_chunks(data))
    with Image.open(io.BytesIO(data)) as img:
        assert not img.getexif() and "xmp" not in img.info and "icc_profile" not in img.info


def is_blurhash(value: object) -> bool:
    """A well-formed BlurHash: base83, with the length its size character announces."""
    if not isinstance(value, str) or len(value) < 6 or not set(value) <= set(BASE83):
        return False
    size_flag = BASE83.index(value[0])
    x_components, y_components = size_flag % 9 + 1, size_flag // 9 + 1
    return len(value) == 4 + 2 * x_components * y_components


def close_to(actual: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 30) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


def rgba_at(img: Image.Image, fx: float, fy: float) -> tuple[int, int, int, int]:
    return img.convert("RGBA").getpixel((int(fx * (img.width - 1)), int(fy * (img.height - 1))))  # type: ignore[return-value]


def assert_sources(sources: list[dict[str, Any]], case: ImageCase) -> set[str]:
    """Every responsive width (never wider than the picture, the picture's own width once) in AVIF then WebP,
    each the size it says, upright, without metadata, animated where the original is; returns their keys."""
    width, height = case.size
    widths = sorted({min(w, width) for w in settings.IMAGE_WIDTHS})
    assert [(s["type"], s["width"]) for s in sources] == [
        (content_type, w) for content_type in ("image/avif", "image/webp") for w in widths
    ]
    keys = set()
    for source in sources:
        answer = download(source["url"])
        assert answer.headers["Content-Type"] == source["type"]
        with Image.open(io.BytesIO(answer.content)) as img:
            assert (img.get_format_mimetype(), img.size) == (source["type"], (source["width"], source["height"]))
            assert abs(source["height"] - height * source["width"] / width) <= 1
            assert getattr(img, "n_frames", 1) == case.frames
        assert_no_metadata(answer.content)
        keys.add(source["url"].split("?")[0].split("/", 3)[3].split("/", 1)[1])  # path after the bucket
    return keys


def assert_ready(api: APIClient, media_id: str, case: ImageCase, body: bytes) -> dict[str, Image.Image]:
    """Everything a READY image must be, through the API and the store; returns the decoded renditions."""
    media = get_media(api, media_id)
    assert media["status"] == Status.READY, media["error"]
    assert (media["progress"], media["error"], media["urls"]["hls"]) == (100, None, None)
    metadata = media["metadata"]
    assert {key: metadata[key] for key in ("width", "height", "format", "has_alpha", "animated")} == {
        "width": case.size[0],
        "height": case.size[1],
        "format": case.format,
        "has_alpha": case.has_alpha,
        "animated": case.animated,
    }
    assert is_blurhash(metadata["blurhash"]), metadata["blurhash"]

    prefix = f"permanent/{media_id}/"
    original_key = f"{prefix}original.{case.extension}"
    source_keys = assert_sources(media["urls"]["sources"], case)
    assert sorted(stored_keys(prefix)) == sorted(
        {original_key, f"{prefix}optimized.webp", f"{prefix}thumb.webp", *source_keys}
    )
    assert stored_keys(f"temp/{media_id}") == []
    assert spool_files() == []

    client = storage.client()
    for name in ("thumb.webp", "optimized.webp"):
        head = client.head_object(Bucket=storage.bucket_name(), Key=f"{prefix}{name}")
        assert (head["ContentType"], head.get("CacheControl")) == ("image/webp", settings.RENDITION_CACHE_CONTROL)
    assert client.head_object(Bucket=storage.bucket_name(), Key=original_key)["ContentType"] == case.original_type

    original = download(media["urls"]["original"])
    assert original.content == body  # the user's file, byte for byte
    assert original.headers["Content-Type"] == case.original_type

    renditions: dict[str, Image.Image] = {}
    for name, url in (("thumbnail", media["urls"]["thumbnail"]), ("optimized", media["urls"]["optimized"])):
        answer = download(url)
        assert answer.headers["Content-Type"] == "image/webp"
        assert_no_metadata(answer.content)
        img = Image.open(io.BytesIO(answer.content))
        assert img.format == "WEBP"
        renditions[name] = img
    thumb, optimized = renditions["thumbnail"], renditions["optimized"]
    assert thumb.size == (150, 150)
    assert not getattr(thumb, "is_animated", False)  # the first frame of an animation
    assert optimized.size == case.optimized
    assert max(optimized.size) == min(2048, max(case.size))  # the longest side: shrunk to 2048, never upscaled
    assert getattr(optimized, "is_animated", False) == case.animated
    assert getattr(optimized, "n_frames", 1) == case.frames
    for fx, fy, expected in case.probes:
        actual = rgba_at(optimized, fx, fy)
        if expected[3] == 0:  # fully transparent: the colour underneath does not matter
            assert actual[3] == 0, (fx, fy, actual)
        else:
            assert close_to(actual, expected), (fx, fy, actual, expected)
    return renditions


# --- every accepted format ---------------------------------------------------------------------


@pytest.mark.parametrize("case", image_samples.format_cases(), ids=lambda case: case.name)
def test_each_format_ends_ready_with_both_renditions(api: APIClient, images_queue: Queue, case: ImageCase) -> None:
    body = case.body
    media_id = submit(api, filename=case.filename, content_type=case.content_type, body=body)
    run_worker(images_queue)
    renditions = assert_ready(api, media_id, case, body)

    if case.has_alpha:
        # transparency survives in both: each keeps see-through and opaque pixels
        for name, rendition in renditions.items():
            assert rendition.mode == "RGBA", name
            assert rendition.getchannel("A").getextrema() == (0, 255), name
    if case.animated:
        optimized = renditions["optimized"]
        frames = []
        for index in range(optimized.n_frames):
            optimized.seek(index)
            frames.append(optimized.convert("RGB").tobytes())
        assert len(set(frames)) == case.frames  # every frame kept, none merged into another
        assert optimized.info.get("loop") == 0  # the GIF looped forever; so does the WebP


def heic_cases(corpus: Path) -> list[ImageCase]:
    heic = corpus / "heic"
    return [
        ImageCase(
            "iphone-heic",
            "IMG_0001.HEIC",
            "image/heic",
            (heic / "iphone_13_pro_max.HEIC").read_bytes,
            "heic",
            "image/heic",
            "HEIF",
            (3024, 4032),  # portrait, as the phone was held
            (1536, 2048),
        ),
        ImageCase(
            "heif",
            "sample.heif",
            "image/heif",
            (heic / "samplefilehub.heif").read_bytes,
            "heic",
            "image/heic",
            "HEIF",
            (640, 426),
            (640, 426),
        ),
    ]


@pytest.mark.slow
def test_iphone_heic_photos_end_ready(api: APIClient, images_queue: Queue, corpus: Path) -> None:
    """Both HEIC files in one worker run: the iPhone one is 12 MP, the slowest input of the suite (~1.5 s)."""
    cases = heic_cases(corpus)
    submitted = [(submit(api, filename=c.filename, content_type=c.content_type, body=c.body), c) for c in cases]
    run_worker(images_queue)
    for media_id, case in submitted:
        assert_ready(api, media_id, case, case.body)


# --- orientation and metadata stripping on real photos --------------------------------------


def grey_signature(img: Image.Image) -> list[float]:
    """A 24 x 24 greyscale thumbnail as numbers, centred: what the correlation compares."""
    small = img.convert("L").resize((24, 24), Image.Resampling.BOX)
    values = [float(v) for v in small.tobytes()]
    mean = sum(values) / len(values)
    return [v - mean for v in values]


def correlation(a: Image.Image, b: Image.Image) -> float:
    x, y = grey_signature(a), grey_signature(b)
    norm = (sum(v * v for v in x) * sum(v * v for v in y)) ** 0.5
    return sum(p * q for p, q in zip(x, y, strict=True)) / norm


@pytest.mark.slow
@pytest.mark.parametrize("shape", ["Landscape", "Portrait"])
def test_every_exif_orientation_comes_out_upright(
    api: APIClient, images_queue: Queue, corpus: Path, settings, shape: str
) -> None:
    """All eight EXIF orientations of one photo, one worker run: each optimized.webp is the upright picture.

    A smaller optimized size keeps the sixteen 2 MP decodes cheap (JPEG DCT scaling); the orientation
    code is the same at any size, and the format tests check the default 2048.
    """
    settings.IMAGE_OPTIMIZED_MAX = 480
    settings.IMAGE_WIDTHS = [320]
    folder = corpus / "orientation"
    with Image.open(folder / f"{shape}_1.jpg") as reference_file:
        reference = ImageOps.exif_transpose(reference_file).convert("RGB")  # value 1: upright as stored
    wrong = {  # what a missing or wrong transpose would give, same size as the reference
        "mirrored": reference.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
        "flipped": reference.transpose(Image.Transpose.FLIP_TOP_BOTTOM),
        "rotated 180": reference.transpose(Image.Transpose.ROTATE_180),
    }
    submitted = {
        value: submit(
            api,
            filename=f"{shape}_{value}.jpg",
            content_type="image/jpeg",
            body=(folder / f"{shape}_{value}.jpg").read_bytes(),
        )
        for value in range(1, 9)
    }
    run_worker(images_queue)
    thumbs: dict[int, Image.Image] = {}
    for value, media_id in submitted.items():
        media = get_media(api, media_id)
        assert media["status"] == Status.READY, (value, media["error"])
        assert (media["metadata"]["width"], media["metadata"]["height"]) == reference.size, value
        optimized = Image.open(io.BytesIO(download(media["urls"]["optimized"]).content))
        assert optimized.size == ImageOps.contain(reference, (480, 480)).size, value
        upright = correlation(optimized, reference)
        assert upright > 0.98, (value, upright)  # measured: 0.999 or more
        for name, image in wrong.items():
            assert correlation(optimized, image) < 0.7, (value, name)  # measured: 0.41 at most
        thumbs[value] = Image.open(io.BytesIO(download(media["urls"]["thumbnail"]).content))
        for source in media["urls"]["sources"]:  # AVIF and WebP, 320 across the upright picture
            with Image.open(io.BytesIO(download(source["url"]).content)) as img:
                assert correlation(img, reference) > 0.98
                assert img.size == (320, round(320 * reference.height / reference.width)), value
    # the attention crop looks at the upright picture: every orientation picks the same square
    for value, thumb in thumbs.items():
        assert correlation(thumb, thumbs[1]) > 0.95, value


CAMERA_PHOTOS = [
    # (file, has GPS in its EXIF)
    ("DSCN0010.jpg", True),
    ("DSCN0021.jpg", True),
    ("Canon_40D.jpg", True),
    ("jolla.jpg", False),  # no GPS, but XMP and an 8 MP sensor: the downscale of a real photo
]


def test_camera_photos_lose_gps_everywhere_and_all_metadata_in_the_renditions(
    api: APIClient, images_queue: Queue, corpus: Path
) -> None:
    bodies = {name: (corpus / "camera" / name).read_bytes() for name, _ in CAMERA_PHOTOS}
    for name, has_gps in CAMERA_PHOTOS:  # the inputs do carry what must not leak
        with Image.open(io.BytesIO(bodies[name])) as source:
            assert bool(source.getexif().get_ifd(0x8825)) == has_gps, name
    submitted = {
        name: submit(api, filename=name, content_type="image/jpeg", body=body) for name, body in bodies.items()
    }
    run_worker(images_queue)
    for name, _ in CAMERA_PHOTOS:
        media = get_media(api, submitted[name])
        assert media["status"] == Status.READY, (name, media["error"])
        for rendition in ("thumbnail", "optimized"):
            data = download(media["urls"][rendition]).content
            assert_no_metadata(data)
            assert b"GPS" not in data and b"<x:xmpmeta" not in data, (name, rendition)
        with Image.open(io.BytesIO(download(media["urls"]["optimized"]).content)) as optimized:
            assert max(optimized.size) == min(2048, max(media["metadata"]["width"], media["metadata"]["height"]))
        # The served original is the checked picture, not a pixel changed, without its metadata
        # (the orientation alone is kept, so it still shows upright).
        original = download(media["urls"]["original"]).content
        assert b"GPS" not in original and b"<x:xmpmeta" not in original and len(original) < len(bodies[name])
        with Image.open(io.BytesIO(original)) as kept, Image.open(io.BytesIO(bodies[name])) as source:
            assert set(kept.getexif()) <= {0x0112} and kept.getexif().get(0x0112, 1) == source.getexif().get(0x0112, 1)
            assert kept.tobytes() == source.tobytes()


# --- bad inputs ----------------------------------------------------------------------------------

BAD_INPUTS = [
    # (id, filename, declared type, body, the code it must end with, words the message must have)
    ("truncated-jpeg", "cut.jpg", "image/jpeg", image_samples.truncated_jpeg, "corrupt_file", ("damaged",)),
    ("pixel-bomb", "bomb.png", "image/png", image_samples.pixel_bomb, "too_large", ("too large",)),
    # under Pillow's own bomb limit (179 MP), so only our limits stop these: 54 MP, and a 30,000 px side
    (
        "over-the-pixel-limit",
        "huge.png",
        "image/png",
        partial(image_samples.pixel_bomb, 9_000, 6_000),
        "too_large",
        ("9000 x 6000", "50 megapixels"),
    ),
    (
        "over-the-side-limit",
        "strip.png",
        "image/png",
        partial(image_samples.pixel_bomb, 30_000, 10),
        "too_large",
        ("30000 x 10", "20000 pixels a side"),
    ),
    ("pdf-as-png", "doc.png", "image/png", image_samples.pdf, "type_mismatch", ("a PDF document", "a PNG image")),
    (
        "random-bytes-as-jpeg",
        "noise.jpg",
        "image/jpeg",
        image_samples.random_bytes,
        "corrupt_file",
        ("damaged", "a JPEG image"),
    ),
]


@pytest.mark.parametrize(
    ("filename", "content_type", "make_body", "code", "words"),
    [case[1:] for case in BAD_INPUTS],
    ids=[case[0] for case in BAD_INPUTS],
)
def test_bad_input_is_rejected_once_and_leaves_nothing(
    api: APIClient,
    images_queue: Queue,
    filename: str,
    content_type: str,
    make_body: Callable[[], bytes],
    code: str,
    words: tuple[str, ...],
) -> None:
    body = make_body()
    media_id = submit(api, filename=filename, content_type=content_type, body=body)
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    run_worker(images_queue)
    grew_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before) / 1024
    assert grew_mib < 200, f"rejecting it cost {grew_mib:.0f} MiB"  # the bomb's 2.5 GB were never allocated

    media = get_media(api, media_id)
    assert media["status"] == Status.REJECTED
    assert media["error"]["code"] == code
    message = media["error"]["message"]
    assert message.endswith(".") and 20 < len(message) < 300, message
    assert not [word for word in DEVELOPER_WORDS if word in message], message
    assert all(word in message for word in words), message
    assert media["urls"] == {**dict.fromkeys(["original", *outputs.names()]), "sources": [], "subtitles": []}
    row = Media.objects.get(pk=media_id)
    assert row.error_detail and row.error_detail not in str(media)  # the technical text is for moderators only

    assert keys_of(media_id) == NOTHING
    assert spool_files() == []
    # final at once: one attempt, the job finished rather than failed, nothing waits for a retry
    assert row.attempts == 1
    assert images_queue.failed_job_registry.count == 0
    assert images_queue.scheduled_job_registry.count == 0 and images_queue.count == 0
    assert jobs.job_id(media_id) in images_queue.finished_job_registry.get_job_ids()


def test_an_empty_image_is_refused_at_create(api: APIClient, images_queue: Queue) -> None:
    answer = create(api, filename="empty.png", content_type="image/png", size=0)
    assert answer.status_code == 400
    assert answer.json()["error"] == {"code": "empty_file", "message": "The file is empty.", "field": "size"}
    assert not Media.objects.exists() and images_queue.count == 0


# --- progress events ------------------------------------------------------------------------------


def test_progress_events_reach_the_owner_in_order(api: APIClient, user, images_queue: Queue, settings) -> None:
    """The owner's group on the real channels-redis layer sees every stage of one job, then READY
    (with every step recorded: by default a fast job's steps are coalesced, tests/test_query_budget.py)."""
    settings.PROGRESS_MIN_INTERVAL = 0
    with GroupEvents(user.id) as seen:
        media_id = submit(api, filename="cat.jpg", content_type="image/jpeg", body=image_samples.jpeg())
        run_worker(images_queue)
        received = seen.until_final(media_id)

    assert {event["event"] for event in received} == {f"progress:{media_id}"}
    assert {event["id"] for event in received} == {media_id}
    assert [event["stage"] for event in received] == image_samples.STAGES
    progress = [event["progress"] for event in received]
    assert progress == sorted(set(progress)), progress  # strictly rising
    assert [event["status"] for event in received[:-1]] == [Status.PROCESSING] * (len(received) - 1)
    assert all(event["thumbnail_url"] is None for event in received[:-1])
    last = received[-1]
    assert (last["status"], last["progress"]) == (Status.READY, 100)
    with Image.open(io.BytesIO(download(last["thumbnail_url"]).content)) as thumb:
        assert (thumb.format, thumb.size) == ("WEBP", (150, 150))


# --- the original's location -------------------------------------------------------------------


def jpeg_with_position() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6
    exif.get_ifd(0x8825).update({1: "N", 2: (52.0, 31.0, 12.5), 3: "E", 4: (13.0, 24.0, 36.0)})
    out = io.BytesIO()
    Image.effect_mandelbrot((160, 120), (-2, -1, 1, 1), 50).convert("RGB").save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def test_the_stored_original_loses_its_gps_position_and_nothing_else(
    api: APIClient, images_queue: Queue, settings
) -> None:
    # A JPEG's metadata goes with the security rewrite (clean_original keeps only the orientation), so the
    # position is gone whatever IMAGE_STRIP_LOCATION says; the setting matters for HEIF/TIFF (render tests).
    settings.IMAGE_WIDTHS = [320]
    body = jpeg_with_position()
    media_id = submit(api, filename="where.jpg", content_type="image/jpeg", body=body)
    run_worker(images_queue)
    media = get_media(api, media_id)
    assert media["status"] == Status.READY
    stored = download(media["urls"]["original"]).content
    with Image.open(io.BytesIO(stored)) as after, Image.open(io.BytesIO(body)) as before:
        assert not after.getexif().get_ifd(0x8825)
        assert after.getexif().get(0x0112) == 6  # still shown upright
        assert after.tobytes() == before.tobytes()  # decoded, the very same pixels
    assert b"GPS" not in stored
    assert media["metadata"]["width"] == 120  # read upright, through the orientation kept
