"""Load on the upload API: many small uploads (text documents and a small PNG) by concurrent clients,
each one create -> PUT to S3 -> confirm, against a running `make run`.

Prints, per call, the count, errors, requests per second (over the whole run) and p50/p95/p99
latency. Text documents are checked inline during confirm (magic bytes, clamd, move: 200 READY);
images are queued (202). The PUT goes to S3 directly and is timed apart from the API calls.

    make run                                   # in another shell; creates demo/demo in DEBUG
    .venv/bin/python bench/api.py              # http://127.0.0.1:8000, user demo/demo
    .venv/bin/python bench/api.py --base-url http://127.0.0.1:8100 --uploads 500 --concurrency 16

Credentials: --token (or MEDIAHUB_TOKEN), else --username/--password (or MEDIAHUB_USER /
MEDIAHUB_PASSWORD, default demo/demo) exchanged at /api/auth/token/. Create is throttled
(THROTTLE_MEDIA_CREATE, 600/minute by default): start the stack with a higher rate for a bench,
or the 429s show up as errors.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field

import requests

TIMEOUT = 60  # seconds per request; a confirm that takes longer counts as an error


@dataclass
class Call:
    """Latencies (seconds) and failures of one kind of request."""

    name: str
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)

    def row(self, wall: float) -> list[str]:
        n = len(self.latencies)
        if n >= 2:
            cuts = statistics.quantiles(self.latencies, n=100, method="inclusive")
            p50, p95, p99 = cuts[49], cuts[94], cuts[98]
        else:
            p50 = p95 = p99 = self.latencies[0] if n else float("nan")
        return [
            self.name,
            str(n),
            str(sum(self.errors.values())),
            f"{n / wall:.1f}",
            *(f"{p * 1000:.1f}" for p in (p50, p95, p99)),
        ]


@dataclass
class Upload:
    filename: str
    content_type: str
    body: bytes
    expected_confirm: int  # 200 for documents checked inline, 202 for queued images


def small_png() -> bytes:
    """A 64x48 PNG, made with Pillow (a dependency of mediahub itself)."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 48), (30, 120, 200)).save(out, "PNG")
    return out.getvalue()


def plan(count: int, image_share: float) -> list[Upload]:
    png = small_png()
    uploads = []
    every = round(1 / image_share) if image_share > 0 else 0
    for n in range(count):
        if every and n % every == every - 1:
            uploads.append(Upload(f"bench-{n}.png", "image/png", png, 202))
        else:
            text = f"mediahub bench document {n}\n".encode() * 20  # ~0.6 KB, each one different
            uploads.append(Upload(f"bench-{n}.txt", "text/plain", text, 200))
    return uploads


class Runner:
    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.calls = {name: Call(name) for name in ("create", "put (S3)", "confirm")}
        self.lock = threading.Lock()
        self.local = threading.local()
        self.confirmed: Counter[str] = Counter()

    def session(self) -> requests.Session:
        """One session (and so one pool of kept-alive connections) per client thread."""
        if not hasattr(self.local, "session"):
            self.local.session = requests.Session()
            self.local.session.headers["Authorization"] = f"Token {self.token}"
        return self.local.session

    def timed(self, name: str, send: Callable[[], requests.Response], expected: int) -> requests.Response | None:
        started = time.perf_counter()
        try:
            answer = send()
        except requests.RequestException as exc:
            with self.lock:
                self.calls[name].errors[type(exc).__name__] += 1
            return None
        elapsed = time.perf_counter() - started
        with self.lock:
            self.calls[name].latencies.append(elapsed)
            if answer.status_code != expected:
                code = ""
                if answer.headers.get("Content-Type", "").startswith("application/json"):
                    code = (answer.json().get("error") or {}).get("code", "")
                self.calls[name].errors[f"{answer.status_code} {code}".strip()] += 1
                return None
        return answer

    def one(self, upload: Upload) -> None:
        api = self.session()
        created = self.timed(
            "create",
            lambda: api.post(
                f"{self.base_url}/api/media/",
                json={"filename": upload.filename, "content_type": upload.content_type, "size": len(upload.body)},
                timeout=TIMEOUT,
            ),
            201,
        )
        if created is None:
            return
        media = created.json()
        signed = media["upload"]
        # The PUT carries no API token: only the returned URL and headers, as a browser would send it.
        put = self.timed(
            "put (S3)",
            lambda: requests.put(signed["url"], data=upload.body, headers=signed["headers"], timeout=TIMEOUT),
            200,
        )
        if put is None:
            return
        confirmed = self.timed(
            "confirm",
            lambda: api.post(f"{self.base_url}/api/media/{media['id']}/confirm/", timeout=TIMEOUT),
            upload.expected_confirm,
        )
        if confirmed is not None:
            with self.lock:
                self.confirmed[confirmed.json()["status"]] += 1


def get_token(base_url: str, username: str, password: str) -> str:
    answer = requests.post(
        f"{base_url.rstrip('/')}/api/auth/token/", json={"username": username, "password": password}, timeout=10
    )
    if answer.status_code != 200:
        sys.exit(f"could not log in as {username!r} at {base_url}: {answer.status_code} {answer.text[:200]}")
    return answer.json()["token"]


def table(rows: list[list[str]]) -> str:
    header = ["call", "n", "errors", "req/s", "p50 ms", "p95 ms", "p99 ms"]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
             for r in [header, *rows]]  # fmt: skip
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", default=os.environ.get("MEDIAHUB_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--token", default=os.environ.get("MEDIAHUB_TOKEN", ""))
    parser.add_argument("--username", default=os.environ.get("MEDIAHUB_USER", "demo"))
    parser.add_argument("--password", default=os.environ.get("MEDIAHUB_PASSWORD", "demo"))
    parser.add_argument("--uploads", type=int, default=200, help="uploads to make (default 200)")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent clients (default 8)")
    parser.add_argument("--image-share", type=float, default=0.2, help="share of uploads that are PNGs (0.2)")
    parser.add_argument("--warmup", type=int, default=5, help="uploads before measuring (default 5)")
    args = parser.parse_args()

    token = args.token or get_token(args.base_url, args.username, args.password)
    if args.warmup:
        warm = Runner(args.base_url, token)
        for upload in plan(args.warmup, 0):
            warm.one(upload)
        failed = {name: dict(call.errors) for name, call in warm.calls.items() if call.errors}
        if failed:
            sys.exit(f"the warm-up failed, is the stack up and the user able to upload? {failed}")

    runner = Runner(args.base_url, token)
    uploads = plan(args.uploads, args.image_share)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
        futures = [pool.submit(runner.one, upload) for upload in uploads]
        for done, future in enumerate(as_completed(futures), 1):
            future.result()
            if done % max(1, len(futures) // 10) == 0:
                print(f"\r{done}/{len(futures)} uploads", end="", file=sys.stderr, flush=True)
    wall = time.perf_counter() - started
    print(file=sys.stderr)

    images = sum(1 for u in uploads if u.content_type == "image/png")
    print(
        f"{args.uploads} uploads ({args.uploads - images} text documents, {images} PNGs), "
        f"{args.concurrency} concurrent clients, {wall:.1f} s against {args.base_url}"
    )
    print(table([call.row(wall) for call in runner.calls.values()]))
    api_requests = len(runner.calls["create"].latencies) + len(runner.calls["confirm"].latencies)
    print(f"API requests (create + confirm): {api_requests / wall:.1f} per second")
    print(f"confirm answers: {dict(runner.confirmed)}")
    errors = {name: dict(call.errors) for name, call in runner.calls.items() if call.errors}
    print(f"errors: {sum(sum(e.values()) for e in errors.values())} {errors if errors else ''}".rstrip())
    if any("429" in code for e in errors.values() for code in e):
        print("429s: create is throttled; start the stack with e.g. THROTTLE_MEDIA_CREATE=100000/minute")
    return 0


if __name__ == "__main__":
    sys.exit(main())
