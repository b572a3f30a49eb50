"""Upload throughput to S3: one presigned PUT of a whole file against a multipart upload of the same
bytes with N parts in flight at once, the URLs signed exactly as the API signs them for clients.

    .venv/bin/python bench/multipart.py                        # 500 MB, 4 parallel parts, 3 rounds
    .venv/bin/python bench/multipart.py --size-mb 200 --parallel 8 --part-mb 8

Runs against the S3 store of the settings (the local SeaweedFS by default), in a bucket of its own
(S3_BUCKET, default bench-multipart) that it creates and empties. Rounds alternate the two methods,
so both see the same machine; it prints each round and the median throughput of each, and the
ratio multipart / single PUT. A third method measures what resumption buys: a multipart upload that
lost its connection halfway finishes by listing the stored parts and sending the rest, where a
single PUT starts over.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mediahub.settings")
os.environ.setdefault("S3_BUCKET", "bench-multipart")

import django  # noqa: E402

django.setup()

from media import storage  # noqa: E402

MiB = 1024 * 1024


def single_put(key: str, body: memoryview) -> float:
    """Seconds for one presigned PUT of the whole file."""
    upload = storage.presigned_put(key, content_type="application/octet-stream", size=len(body))
    started = time.perf_counter()
    requests.put(upload["url"], data=body, headers=upload["headers"], timeout=600).raise_for_status()
    return time.perf_counter() - started


def multipart(key: str, body: memoryview, *, part_size: int, parallel: int, resume_at: float = 0.0) -> float:
    """Seconds for a multipart upload with `parallel` parts in flight, from creating it to completing it.
    With `resume_at`, that share of the parts is uploaded first, untimed (the client then lost its
    connection); the time is that of finishing: listing the stored parts, sending the rest, completing."""
    session = requests.Session()

    def send(upload_id: str, number: int) -> storage.Part:
        chunk = body[(number - 1) * part_size : number * part_size]
        url, headers, _ = storage.presigned_part(key, upload_id=upload_id, part_number=number, size=len(chunk))
        answer = session.put(url, data=chunk, headers=headers, timeout=600)
        answer.raise_for_status()
        return storage.Part(number, len(chunk), answer.headers["ETag"])

    count = -(-len(body) // part_size)
    with ThreadPoolExecutor(parallel) as pool:
        upload_started = time.perf_counter()
        upload_id = storage.multipart_create(key, content_type="application/octet-stream")
        before = list(pool.map(lambda n: send(upload_id, n), range(1, int(count * resume_at) + 1)))
        started = time.perf_counter() if resume_at else upload_started
        stored = {part.number for part in storage.list_parts(key, upload_id)} if resume_at else set()
        assert stored == {part.number for part in before}
        rest = pool.map(lambda n: send(upload_id, n), [n for n in range(1, count + 1) if n not in stored])
        storage.multipart_complete(key, upload_id, before + list(rest))
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=500)
    parser.add_argument("--part-mb", type=int, default=16, help="part size in MiB (MULTIPART_PART_SIZE's default)")
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    storage.ensure_bucket()
    body = memoryview(os.urandom(args.size_mb * MiB))
    part_size, parallel = args.part_mb * MiB, args.parallel
    methods: dict[str, Callable[[str], float]] = {
        "single PUT": lambda key: single_put(key, body),
        f"multipart x{parallel}": lambda key: multipart(key, body, part_size=part_size, parallel=parallel),
        "finish at 50%": lambda key: multipart(key, body, part_size=part_size, parallel=parallel, resume_at=0.5),
    }
    seconds: dict[str, list[float]] = {name: [] for name in methods}
    print(f"{args.size_mb} MiB, parts of {args.part_mb} MiB, bucket {storage.bucket_name()}")
    try:
        for round_ in range(1, args.rounds + 1):
            for name, run in methods.items():
                key = f"bench/{name.replace(' ', '-')}-{round_}"
                seconds[name].append(run(key))
                assert storage.head(key).size == len(body)
                storage.delete([key])
                rate = len(body) / MiB / seconds[name][-1]
                print(f"round {round_}  {name:<14} {seconds[name][-1]:6.2f} s  {rate:7.1f} MiB/s")
    finally:
        for key, upload_id, _ in storage.list_multipart_uploads("bench/"):
            storage.multipart_abort(key, upload_id)
        storage.delete(storage.list_keys("bench/"))
    single, parts, finish = (statistics.median(values) for values in seconds.values())
    print(f"median: single PUT {single:.2f} s ({len(body) / MiB / single:.1f} MiB/s), ", end="")
    print(f"multipart x{parallel} {parts:.2f} s ({len(body) / MiB / parts:.1f} MiB/s)")
    print(f"throughput multipart / single PUT: {single / parts:.2f}x")
    print(f"after an interruption halfway: the single PUT starts over ({single:.2f} s), ", end="")
    print(f"multipart sends the rest ({finish:.2f} s): {single / finish:.2f}x faster to finish")
    return 0


if __name__ == "__main__":
    sys.exit(main())
