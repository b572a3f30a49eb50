"""Benchmark of the image renditions, beside Node's sharp doing the same work in the same run.

    .venv/bin/python bench/images.py                  # both sides, 8 rounds x 3 images each
    .venv/bin/python bench/images.py --rounds 5 --sizes 12mp.jpg
    .venv/bin/python bench/images.py --method 3 --resample bicubic   # try other settings

Inputs (JPEGs of about 1, 12 and 24 MP and a 12 MP PNG) are made once under
bench/out/ from a real phone photo of the shared corpus, scaled to size with a
little luminance grain so that the large ones carry sensor-like detail rather
than upscaling blur. sharp is installed with npm into bench/.node/ on first use.

Each side runs in its own subprocess per round: one warm-up image, then the
timed ones. CPU is user+system time of that process around each image (all
threads), peak memory its VmHWM (ru_maxrss would include the RSS the
parent had when it forked). Rounds alternate sides,
so a noisy neighbour hurts both; the table shows medians over all images of
all rounds. A bench never fails the test run: it only prints figures.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
NODE_DIR = ROOT / "bench" / ".node"
CORPUS_PHOTO = ROOT.parent / "shared" / "corpus" / "camera" / "jolla.jpg"
SHARP_VERSION = "0.35"

# name -> (width, height); 3:2 for 24 MP as camera sensors are, 4:3 for phones.
SIZES: dict[str, tuple[int, int]] = {
    "1mp.jpg": (1200, 900),
    "12mp.jpg": (4000, 3000),
    "24mp.jpg": (6000, 4000),
    "12mp.png": (4000, 3000),
}

SHARP_WORKER = r"""
const sharp = require(process.env.SHARP_PATH);
const [src, outDir, runs, quality, effort, thumb, widthList, avifQuality, avifEffort] = process.argv.slice(2);
const webp = {quality: +quality, effort: +effort};
const avif = {quality: +avifQuality, effort: +avifEffort};
const widths = widthList.split(',').map(Number);
async function once() {
  // The same outputs as the app declares: upright, metadata stripped (sharp's default), the attention
  // thumbnail and every width in WebP and AVIF, never enlarged. Each pipeline is sharp's usual one
  // (libvips shrinks on load per pipeline), all of them at once on its thread pool.
  const jobs = [sharp(src).rotate().resize(+thumb, +thumb, {fit: 'cover', position: sharp.strategy.attention})
    .webp(webp).toFile(`${outDir}/thumb.webp`)];
  for (const w of widths) {
    const sized = () => sharp(src).rotate().resize({width: w, withoutEnlargement: true});
    jobs.push(sized().webp(webp).toFile(`${outDir}/w${w}.webp`));
    jobs.push(sized().avif(avif).toFile(`${outDir}/w${w}.avif`));
  }
  const done = await Promise.all(jobs);
  return done.reduce((total, info) => total + info.size, 0);
}
(async () => {
  await once();  // warm-up
  const results = [];
  for (let i = 0; i < +runs; i++) {
    const c0 = process.cpuUsage(); const t0 = process.hrtime.bigint();
    const size = await once();
    const c = process.cpuUsage(c0);
    const wall = Number(process.hrtime.bigint() - t0) / 1e6;
    results.push({wall_ms: wall, cpu_ms: (c.user + c.system) / 1000, size});
  }
  const hwm = /VmHWM:\s+(\d+)/.exec(require('fs').readFileSync('/proc/self/status', 'utf8'));
  console.log(JSON.stringify({results, peak_kib: hwm ? +hwm[1] : process.resourceUsage().maxRSS}));
})();
"""


@dataclass
class Side:
    wall_ms: list[float]
    cpu_ms: list[float]
    rss_mb: list[float]
    size: int

    @property
    def cpu(self) -> float:
        return statistics.median(self.cpu_ms)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=8, help="subprocesses per side and image")
    parser.add_argument("--runs", type=int, default=3, help="timed images per subprocess")
    parser.add_argument("--sizes", nargs="*", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--quality", type=int, default=None)
    parser.add_argument("--method", type=int, default=None)
    parser.add_argument("--resample", default=None)
    parser.add_argument("--no-sharp", action="store_true", help="time the Python side only")
    parser.add_argument("--queue", action="store_true", help="jobs/second of the RQ queue instead (bench/jobqueue.py)")
    parser.add_argument("--worker", nargs=3, metavar=("SRC", "OUT_DIR", "RUNS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    overrides = {k: v for k in ("quality", "method", "resample") if (v := getattr(args, k)) is not None}
    if args.worker:
        python_worker(Path(args.worker[0]), Path(args.worker[1]), int(args.worker[2]), overrides)
        return
    if args.queue:
        bench_queue()
        return

    inputs = make_inputs(args.sizes)
    spec = spec_with(overrides)
    sharp = None if args.no_sharp else install_sharp()
    print(
        f"quality {spec.quality}, method/effort {spec.method}, resample {spec.resample}; "
        f"{args.rounds} rounds x {args.runs} images per side; {os.cpu_count()} CPUs",
        file=sys.stderr,
    )
    rows = []
    for name, path in inputs.items():
        py = Side([], [], [], 0)
        js = Side([], [], [], 0)
        for round_no in range(args.rounds):
            print(f"  {name}: round {round_no + 1}/{args.rounds}", file=sys.stderr, flush=True)
            run_side(py, python_command(path, args.runs, overrides), OUT / "py" / name)
            if sharp is not None:
                run_side(js, sharp_command(sharp, path, args.runs, spec), OUT / "sharp" / name)
        rows.append((name, py, js if sharp is not None else None, psnr_pair(path, spec)))
    print(table(rows))


def spec_with(overrides: dict[str, object]):  # -> processing.images.ImageSpec
    sys.path.insert(0, str(ROOT))
    from processing.images import ImageSpec

    return ImageSpec(**overrides)


def python_worker(src: Path, out_dir: Path, runs: int, overrides: dict[str, object]) -> None:
    spec = spec_with(overrides)
    from processing.images import render_image

    renditions = full_set(spec)
    render_image(src, out_dir, spec, renditions)  # warm-up: imports, caches
    results = []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        result = render_image(src, out_dir, spec, renditions)
        cpu, wall = time.process_time() - c0, time.perf_counter() - t0
        size = sum(path.stat().st_size for path in set(result.files.values()))
        results.append({"wall_ms": wall * 1000, "cpu_ms": cpu * 1000, "size": size})
    print(json.dumps({"results": results, "peak_kib": peak_kib()}))


WIDTHS = (320, 640, 1280, 2048)  # the default IMAGE_WIDTHS


def full_set(spec):  # -> list of processing.rendition.Rendition
    """What the app makes of an image by default: the thumbnail and every width in AVIF and WebP (the optimized
    image is the 2048 WebP's twin, written once)."""
    from processing.rendition import Rendition

    widths = [
        Rendition(f"{ext}_{w}", f"w{w}.{ext}", "width", w, f"image/{ext}") for w in WIDTHS for ext in ("webp", "avif")
    ]
    return [Rendition("thumbnail", "thumb.webp", "cover", spec.thumb_size), *widths]


def peak_kib() -> int:
    """This process's peak RSS: VmHWM, because ru_maxrss also counts the parent's RSS at fork time."""
    try:
        status = Path("/proc/self/status").read_text()
        return int(status.split("VmHWM:")[1].split()[0])
    except (OSError, IndexError, ValueError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def python_command(src: Path, runs: int, overrides: dict[str, object]) -> list[str]:
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", str(src), "{out}", str(runs)]
    for key, value in overrides.items():
        command += [f"--{key}", str(value)]
    return command


def sharp_command(sharp: Path, src: Path, runs: int, spec) -> list[str]:
    worker = NODE_DIR / "worker.js"
    worker.write_text(SHARP_WORKER)
    widths = ",".join(str(w) for w in WIDTHS)
    # sharp's AVIF effort 0-9 is libaom's speed 9-effort: the same encoder setting as Pillow's speed
    avif_effort = max(0, 9 - spec.avif_speed)
    return ["node", str(worker), str(src), "{out}", str(runs), str(spec.quality), str(spec.method),
            str(spec.thumb_size), widths, str(spec.avif_quality), str(avif_effort)]  # fmt: skip


def run_side(side: Side, command: list[str], out_dir: Path) -> None:
    """Run one worker process and collect its per-image times and its peak memory."""
    out_dir.mkdir(parents=True, exist_ok=True)
    command = [str(out_dir) if part == "{out}" else part for part in command]
    env = {**os.environ, "SHARP_PATH": str(NODE_DIR / "node_modules" / "sharp")}
    done = subprocess.run(command, stdout=subprocess.PIPE, env=env, check=False)
    if done.returncode != 0:
        raise SystemExit(f"worker failed ({done.returncode}): {' '.join(command)}")
    report = json.loads(done.stdout)
    results = report["results"]
    side.wall_ms += [r["wall_ms"] for r in results]
    side.cpu_ms += [r["cpu_ms"] for r in results]
    side.rss_mb.append(report["peak_kib"] / 1024)
    side.size = results[-1]["size"]


def install_sharp() -> Path | None:
    if (NODE_DIR / "node_modules" / "sharp").is_dir():
        return NODE_DIR
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        print("npm or node is missing: timing the Python side only, without sharp.", file=sys.stderr)
        return None
    NODE_DIR.mkdir(parents=True, exist_ok=True)
    print(f"installing sharp@{SHARP_VERSION} into {NODE_DIR} ...", file=sys.stderr)
    done = subprocess.run(
        [npm, "install", "--prefix", str(NODE_DIR), "--no-audit", "--no-fund", f"sharp@{SHARP_VERSION}"],
        check=False,
    )
    if done.returncode != 0:
        print("npm install sharp failed: timing the Python side only.", file=sys.stderr)
        return None
    return NODE_DIR


def make_inputs(names: list[str]) -> dict[str, Path]:
    """Generate the inputs once; later runs reuse them so figures stay comparable."""
    from PIL import Image, ImageChops

    (OUT / "inputs").mkdir(parents=True, exist_ok=True)
    paths = {name: OUT / "inputs" / name for name in names}
    missing = [name for name, path in paths.items() if not path.exists()]
    if not missing:
        return paths
    if CORPUS_PHOTO.exists():
        photo = Image.open(CORPUS_PHOTO).convert("RGB")
    else:
        print(f"{CORPUS_PHOTO} is missing: using a synthetic picture instead.", file=sys.stderr)
        photo = Image.radial_gradient("L").resize((3264, 2448)).convert("RGB")
        photo = ImageChops.add(photo, Image.effect_noise(photo.size, 40).convert("RGB"), 1, -128)
    for name in missing:
        width, height = SIZES[name]
        # Crop to the target's aspect ratio, then scale: no stretching.
        crop_h = min(photo.height, round(photo.width * height / width))
        top = (photo.height - crop_h) // 2
        img = photo.crop((0, top, photo.width, top + crop_h))
        img = img.resize((width, height), Image.Resampling.LANCZOS)
        grain = Image.effect_noise(img.size, 4 if width > photo.width else 2).convert("RGB")
        img = ImageChops.add(img, grain, 1, -128)
        if name.endswith(".png"):
            img.save(paths[name], compress_level=6)
        else:
            img.save(paths[name], quality=90)  # what a camera writes, roughly
    return paths


def psnr_pair(src: Path, spec) -> tuple[float, float] | None:
    """PSNR of both 1280 WebP files against one reference (Pillow, LANCZOS, full decode, no WebP)."""
    from PIL import Image, ImageChops, ImageStat

    py_out = OUT / "py" / src.name / "w1280.webp"
    js_out = OUT / "sharp" / src.name / "w1280.webp"
    if not js_out.exists():
        return None
    with Image.open(src) as img:
        reference = img.convert("RGB")
    size = Image.open(py_out).size
    if reference.size != size:
        reference = reference.resize(size, Image.Resampling.LANCZOS)

    def psnr(path: Path) -> float:
        with Image.open(path) as out:
            if out.size != reference.size:
                return float("nan")
            stat = ImageStat.Stat(ImageChops.difference(out.convert("RGB"), reference))
        mse = sum(stat.sum2) / (3 * size[0] * size[1])
        return 10 * math.log10(255**2 / mse) if mse else float("inf")

    return psnr(py_out), psnr(js_out)


def table(rows: list[tuple[str, Side, Side | None, tuple[float, float] | None]]) -> str:
    header = [
        "input", "Pillow wall ms", "Pillow CPU ms", "sharp wall ms", "sharp CPU ms", "CPU ratio",
        "Pillow peak MB", "sharp peak MB", "all outputs KB Pillow / sharp", "size ratio",
        "PSNR 1280 WebP dB Pillow / sharp",
    ]  # fmt: skip
    lines = ["| " + " | ".join(header) + " |", "| --- |" + " ---: |" * (len(header) - 1)]
    for name, py, js, psnr in rows:
        cells = [name, f"{statistics.median(py.wall_ms):.0f}", f"{py.cpu:.0f}"]
        if js is None or not js.cpu_ms:
            cells += [
                "-",
                "-",
                "-",
                f"{statistics.median(py.rss_mb):.0f}",
                "-",
                f"{py.size / 1024:.0f}",
                "-",
                "-",
            ]
        else:
            cells += [
                f"{statistics.median(js.wall_ms):.0f}",
                f"{js.cpu:.0f}",
                f"{py.cpu / js.cpu:.2f}",
                f"{statistics.median(py.rss_mb):.0f}",
                f"{statistics.median(js.rss_mb):.0f}",
                f"{py.size / 1024:.0f} / {js.size / 1024:.0f}",
                f"{py.size / js.size:.3f}",
                f"{psnr[0]:.2f} / {psnr[1]:.2f}" if psnr else "-",
            ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def bench_queue() -> None:
    """Jobs/second of the `images` queue beside the queue's own cost per job: bench/jobqueue.py."""
    subprocess.run([sys.executable, str(Path(__file__).with_name("jobqueue.py"))], check=True)


if __name__ == "__main__":
    main()
