"""Upload throughput to S3: one presigned PUT of a whole file against a multipart upload of the same
bytes with N parts in flight at once, the URLs signed exactly as the API signs them for clients.

    .venv/bin/python bench/multipart.py                        # 500 MB, 4 parallel parts, 3 rounds
    .venv/bin/python bench/multipart.py --size-mb 200 --parallel 8 --part-mb 8

Runs against the S3 store of the settings (the local SeaweedFS by default), in a bucket of its own
(S3_BUCKET, default bench-multipart) that it creates and empties. Rounds alternate the two methods,
so both see the same machine; it prints each round and the median throughput of each, and the
ratio multipart / single PUT.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
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
    upload = storage.presigned_put(key, content_type="application/octet-stream", size=len(body))
    requests.put(upload["url"], data=body, headers=upload["headers"], timeout=600).raise_for_status()
    return 0.0


def multipart(key: str, body: memoryview, *, part_size: int, parallel: int) -> float:
    """Returns the seconds the final complete took (the store joining the parts)."""
    upload_id = storage.multipart_create(key, content_type="application/octet-stream")
    numbers = range(1, -(-len(body) // part_size) + 1)
    session = requests.Session()

    def send(number: int) -> storage.Part:
        chunk = body[(number - 1) * part_size : number * part_size]
        url, headers, _ = storage.presigned_part(key, upload_id=upload_id, part_number=number, size=len(chunk))
        answer = session.put(url, data=chunk, headers=headers, timeout=600)
        answer.raise_for_status()
        return storage.Part(number, len(chunk), answer.headers["ETag"])

    with ThreadPoolExecutor(parallel) as pool:
        parts = list(pool.map(send, numbers))
    started = time.perf_counter()
    storage.multipart_complete(key, upload_id, parts)
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
    results: dict[str, list[float]] = {"single PUT": [], f"multipart x{args.parallel}": []}
    methods = {
        "single PUT": lambda key: single_put(key, body),
        f"multipart x{args.parallel}": lambda key: multipart(
            key, body, part_size=args.part_mb * MiB, parallel=args.parallel
        ),
    }
    print(f"{args.size_mb} MiB, parts of {args.part_mb} MiB, bucket {storage.bucket_name()}")
    try:
        for round_ in range(1, args.rounds + 1):
            for name, run in methods.items():
                key = f"bench/{name.replace(' ', '-')}-{round_}"
                started = time.perf_counter()
                joining = run(key)
                seconds = time.perf_counter() - started
                assert storage.head(key).size == len(body)
                storage.delete([key])
                results[name].append(len(body) / MiB / seconds)
                extra = f"  (complete: {joining:.2f} s)" if joining else ""
                print(f"round {round_}  {name:<14} {seconds:6.2f} s  {results[name][-1]:7.1f} MiB/s{extra}")
    finally:
        for key, upload_id, _ in storage.list_multipart_uploads("bench/"):
            storage.multipart_abort(key, upload_id)
        storage.delete(storage.list_keys("bench/"))
    medians = {name: statistics.median(values) for name, values in results.items()}
    single, parts = medians.values()
    for name, value in medians.items():
        print(f"median  {name:<14} {value:7.1f} MiB/s")
    print(f"multipart / single PUT: {parts / single:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
