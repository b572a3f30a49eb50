"""Open-loop load on the upload API: uploads arrive at a fixed rate, whatever the server answers.

Each upload is the real flow: `POST /api/media/`, a PUT of the bytes to S3 with the returned URL and
headers only, then `POST /api/media/<id>/confirm/`. Four in five are small text documents (checked
inline during confirm: 200 READY), one in five a small PNG (queued for the image worker: 202).
Arrivals do not wait for each other (N clients waiting on their own answers would slow down with the
server and hide its overload), so a server that cannot keep up shows it as latency and refusals.

A refusal is a 503 or 429 with Retry-After: the client behaves as it should, a refused create is not
retried (the upload is dropped and counted), a refused confirm is sent again after Retry-After (up to
--confirm-retries times) because the bytes are already stored. Any other unexpected answer, a 503/429
without Retry-After, or a request that fails is an error.

Time to READY is taken from the progress events of one WebSocket (`/ws/media/`), the way a client
watches: for text documents it is the confirm itself. At the end the bench waits (--settle) and
prints how many of this user's media are not final (PENDING or PROCESSING) and how many objects in
the bucket belong to no media of the user (stray); both must be 0. Use a fresh user and a bucket of
the stack's own so leftovers of other runs do not count.

    .venv/bin/python bench/load.py --base-url http://127.0.0.1:8112 --rate 50 --duration 120
    .venv/bin/python bench/load.py --rate 100 --duration 60      # twice the goal: refusals, never a 500

Credentials as in bench/api.py: --token (MEDIAHUB_TOKEN), else --username/--password. The bucket is
read with S3_ENDPOINT_URL, S3_BUCKET, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (the stack's own
defaults). bench/load_stack.sh starts a production-like stack and runs this against it.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import aiohttp

TIMEOUT = aiohttp.ClientTimeout(total=60)  # a request that takes longer counts as an error
FINAL = {"READY", "REJECTED", "FAILED", "EXPIRED"}
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass
class Upload:
    kind: str  # "text" or "image"
    filename: str
    content_type: str
    body: bytes
    expected_confirm: int


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: Counter[str] = field(default_factory=Counter)  # "kind call status code"
    refusals: Counter[str] = field(default_factory=Counter)  # 503/429 with Retry-After
    completed: Counter[str] = field(default_factory=Counter)  # uploads confirmed, per kind
    confirmed_at: dict[str, tuple[str, float]] = field(default_factory=dict)  # id -> (kind, when)
    ready_after: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))  # kind -> seconds
    statuses: Counter[int] = field(default_factory=Counter)


def small_png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 48), (30, 120, 200)).save(out, "PNG")
    return out.getvalue()


def make_upload(n: int, image_every: int, png: bytes) -> Upload:
    if image_every and n % image_every == image_every - 1:
        return Upload("image", f"load-{n}.png", "image/png", png, 202)
    text = f"mediahub load document {n} {time.time_ns()}\n".encode() * 16  # ~0.7 KB, each one different
    return Upload("text", f"load-{n}.txt", "text/plain", text, 200)


def percentiles(values: list[float]) -> tuple[float, float, float]:
    if not values:
        return (float("nan"),) * 3
    if len(values) == 1:
        return (values[0],) * 3
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[49], cuts[94], cuts[98]


class Load:
    def __init__(self, base_url: str, token: str, confirm_retries: int) -> None:
        self.base_url = base_url.rstrip("/")
        self.headers = {"Authorization": f"Token {token}"}
        self.token = token
        self.confirm_retries = confirm_retries
        self.stats = Stats()
        self.wall = 0.0  # seconds from the first arrival until the last upload's confirm was answered

    async def _call(
        self, http: aiohttp.ClientSession, kind: str, name: str, method: str, url: str, expected: int, **kwargs
    ) -> tuple[str, dict | None, float]:
        """One request: ("ok", body, retry_after) or ("refused", None, seconds) or ("error", None, 0)."""
        started = time.perf_counter()
        try:
            async with http.request(method, url, timeout=TIMEOUT, **kwargs) as answer:
                raw = await answer.read()
                status = answer.status
                retry_after = answer.headers.get("Retry-After")
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.stats.errors[f"{kind} {name} {type(exc).__name__}"] += 1
            return "error", None, 0.0
        elapsed = time.perf_counter() - started
        self.stats.statuses[status] += 1
        body = None
        if raw[:1] == b"{":
            body = json.loads(raw)
        if status == expected:
            self.stats.latencies[f"{name} {kind}"].append(elapsed)
            self.stats.latencies[name].append(elapsed)
            return "ok", body, 0.0
        code = ((body or {}).get("error") or {}).get("code", "")
        if status in (429, 503) and retry_after:
            self.stats.refusals[f"{kind} {name} {status} {code}".strip()] += 1
            return "refused", None, float(retry_after)
        self.stats.errors[f"{kind} {name} {status} {code}".strip()] += 1
        return "error", None, 0.0

    async def one(self, http: aiohttp.ClientSession, upload: Upload) -> None:
        outcome, media, _ = await self._call(
            http,
            upload.kind,
            "create",
            "POST",
            f"{self.base_url}/api/media/",
            201,
            json={"filename": upload.filename, "content_type": upload.content_type, "size": len(upload.body)},
            headers=self.headers,
        )
        if outcome != "ok" or media is None:
            return
        signed = media["upload"]
        # the PUT carries no API token: only the returned URL and headers, as a browser sends it
        outcome, _, _ = await self._call(
            http, upload.kind, "put", "PUT", signed["url"], 200, data=upload.body, headers=signed["headers"]
        )
        if outcome != "ok":
            return
        for _attempt in range(self.confirm_retries + 1):
            sent = time.monotonic()
            outcome, body, wait = await self._call(
                http,
                upload.kind,
                "confirm",
                "POST",
                f"{self.base_url}/api/media/{media['id']}/confirm/",
                upload.expected_confirm,
                headers=self.headers,
            )
            if outcome != "refused":
                break
            await asyncio.sleep(wait)
        if outcome == "ok" and body is not None:
            self.stats.completed[upload.kind] += 1
            if body["status"] == "READY":
                self.stats.ready_after[upload.kind].append(time.monotonic() - sent)
            else:
                self.stats.confirmed_at[body["id"]] = (upload.kind, sent)

    async def watch(self, http: aiohttp.ClientSession, stop: asyncio.Event) -> None:
        """Time to READY of queued media, from the live progress events."""
        url = self.base_url.replace("http", "ws", 1) + f"/ws/media/?token={self.token}"
        async with http.ws_connect(url, heartbeat=20) as ws:
            while not stop.is_set():
                try:
                    message = await ws.receive(timeout=0.5)
                except TimeoutError:
                    continue
                if message.type != aiohttp.WSMsgType.TEXT:
                    if message.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                        return
                    continue
                event = json.loads(message.data)
                if event.get("status") in FINAL and event.get("id") in self.stats.confirmed_at:
                    kind, sent = self.stats.confirmed_at.pop(event["id"])
                    if event["status"] == "READY":
                        self.stats.ready_after[kind].append(time.monotonic() - sent)

    async def run(self, rate: float, duration: float, image_share: float) -> float:
        png = small_png()
        image_every = round(1 / image_share) if image_share > 0 else 0
        connector = aiohttp.TCPConnector(limit=0, force_close=False)
        async with aiohttp.ClientSession(connector=connector) as http:
            stop = asyncio.Event()
            watcher = asyncio.create_task(self.watch(http, stop))
            await asyncio.sleep(0.5)  # subscribed before the first event
            tasks: list[asyncio.Task] = []
            count = int(rate * duration)
            started = time.monotonic()
            for n in range(count):
                # open loop: the n-th upload starts at n / rate, however the earlier ones fare
                delay = started + n / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(self.one(http, make_upload(n, image_every, png))))
                if n and n % int(rate * 10) == 0:
                    print(f"\r{n}/{count} uploads started", end="", file=sys.stderr, flush=True)
            sent_for = time.monotonic() - started
            await asyncio.gather(*tasks)
            self.wall = time.monotonic() - started
            print(file=sys.stderr)
            # the queued ones still processing: up to 60 s more for their events
            deadline = time.monotonic() + 60
            while self.stats.confirmed_at and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            stop.set()
            await watcher
            return sent_for


def api_get(base_url: str, token: str, path: str) -> dict:
    import requests

    answer = requests.get(f"{base_url}{path}", headers={"Authorization": f"Token {token}"}, timeout=60)
    answer.raise_for_status()
    return answer.json()


def census(base_url: str, token: str) -> dict[str, str]:
    """Every media of the user: id -> status."""
    found: dict[str, str] = {}
    page = 1
    while True:
        body = api_get(base_url, token, f"/api/media/?page_size=200&page={page}")
        found.update({m["id"]: m["status"] for m in body["results"]})
        if not body.get("next"):
            return found
        page += 1


def stray_objects(known: set[str]) -> list[str]:
    """Objects in the bucket that belong to no media of the user (the bucket is the stack's own)."""
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=os.environ.get("S3_ENDPOINT_URL", "http://127.0.0.1:8333"),
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "mediahub-dev"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "mediahub-dev-secret"),
        region_name=os.environ.get("S3_REGION", "us-east-1"),
    )
    stray = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=os.environ.get("S3_BUCKET", "mediahub")):
        for item in page.get("Contents", []):
            match = UUID.search(item["Key"])
            if match is None or match.group() not in known:
                stray.append(item["Key"])
    return stray


def get_token(base_url: str, username: str, password: str) -> str:
    import requests

    answer = requests.post(f"{base_url}/api/auth/token/", json={"username": username, "password": password}, timeout=10)
    if answer.status_code != 200:
        sys.exit(f"could not log in as {username!r} at {base_url}: {answer.status_code} {answer.text[:200]}")
    return answer.json()["token"]


def report(load: Load, rate: float, duration: float, sent_for: float, wall: float) -> None:
    s = load.stats
    total = int(rate * duration)
    completed = sum(s.completed.values())
    load_avg = os.getloadavg()
    print(f"load average at the end: {load_avg[0]:.1f} {load_avg[1]:.1f} {load_avg[2]:.1f}  ({os.cpu_count()} cores)")
    print(f"offered {rate:g} uploads/s for {duration:g} s ({total} uploads, sent over {sent_for:.1f} s)")
    print(f"completed (confirm answered as expected): {completed} = {completed / wall:.1f} uploads/s over {wall:.1f} s")
    print(f"  by kind: {dict(s.completed)}")
    print(f"HTTP statuses: {dict(sorted(s.statuses.items()))}")
    print(f"errors: {sum(s.errors.values())} {dict(s.errors) if s.errors else ''}".rstrip())
    print(f"refusals (503/429 with Retry-After): {sum(s.refusals.values())} {dict(s.refusals) if s.refusals else ''}")
    print(f"{'call':<22}{'n':>7}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}")
    names = ["create", "put", "confirm", "confirm text", "confirm image"]
    rows = [(name, s.latencies.get(name, [])) for name in names]
    rows += [(f"confirm->READY {kind}", values) for kind, values in sorted(s.ready_after.items())]
    for name, values in rows:
        p50, p95, p99 = percentiles(values)
        print(f"{name:<22}{len(values):>7}{p50 * 1000:>10.0f}{p95 * 1000:>10.0f}{p99 * 1000:>10.0f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", default=os.environ.get("MEDIAHUB_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--token", default=os.environ.get("MEDIAHUB_TOKEN", ""))
    parser.add_argument("--username", default=os.environ.get("MEDIAHUB_USER", "demo"))
    parser.add_argument("--password", default=os.environ.get("MEDIAHUB_PASSWORD", "demo"))
    parser.add_argument("--rate", type=float, default=50, help="uploads started per second (default 50)")
    parser.add_argument("--duration", type=float, default=120, help="seconds of arrivals (default 120)")
    parser.add_argument("--image-share", type=float, default=0.2, help="share of uploads that are PNGs (0.2)")
    parser.add_argument("--confirm-retries", type=int, default=5, help="a refused confirm is sent again (5)")
    parser.add_argument("--settle", type=float, default=120, help="seconds to wait for every media to be final")
    args = parser.parse_args()
    base_url = args.base_url.rstrip("/")
    token = args.token or get_token(base_url, args.username, args.password)

    load = Load(base_url, token, args.confirm_retries)
    sent_for = asyncio.run(load.run(args.rate, args.duration, args.image_share))
    report(load, args.rate, args.duration, sent_for, load.wall)

    deadline = time.monotonic() + args.settle
    while True:
        media = census(base_url, token)
        waiting = [m for m, state in media.items() if state not in FINAL]
        if not waiting or time.monotonic() > deadline:
            break
        time.sleep(2)
    print(f"media of the user: {len(media)} {dict(Counter(media.values()))}")
    print(f"not final (PENDING or PROCESSING) after settling: {len(waiting)}")
    stray = stray_objects(set(media))
    print(f"stray objects (no media of the user): {len(stray)} {stray[:5] if stray else ''}".rstrip())
    subprocess.run(["uptime"], check=False)
    used = resource.getrusage(resource.RUSAGE_SELF)
    print(f"the load generator's own CPU (it shares the machine): {used.ru_utime + used.ru_stime:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
