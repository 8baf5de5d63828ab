"""Benchmark of the cat / dog / neither answer: seconds from a photo's bytes to its verdict, model loaded.

The page loads the pretrained classifier once per server (`st.cache_resource`); after that, what a
student waits for is `decode_photo` (decode, EXIF turn, RGB) plus `classify_batch` (resize, crop,
normalise, one forward pass, the fold of ImageNet's 1000 classes into three). This times exactly that
for real photos - scikit-image's chelsea, astronaut, coffee and rocket as JPEG, and darknet's dog.jpg,
person.jpg and horses.jpg when .ci/setup has put them under $DASHBOARD_DATA/photos - one photo at a
time and as one drop of all of them, with PyTorch's default threads and with one thread. Each figure is
the median (and the worst) of `--repeats` answers after two warm-up ones. The last line printed is one
JSON object, also written to bench/results/photos.json. Run from the repository root:
`python -m bench.bench_photos --help`. The issue's target: <= 150 ms per photo on a 2-core CPU.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/bench_photos.py` puts bench/, not the root, on the path
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from PIL import Image  # noqa: E402

from core import datasets  # noqa: E402
from core.models import pretrained  # noqa: E402
from core.vision.photos import decode_photo  # noqa: E402

TARGET_MS = 150.0
RESULTS = ROOT / "bench" / "results" / "photos.json"


def photos() -> dict[str, bytes]:
    """name -> the file's bytes, as a browser would upload them."""
    import skimage.data

    found = {}
    for name in ("chelsea", "astronaut", "coffee", "rocket"):
        buffer = io.BytesIO()
        Image.fromarray(getattr(skimage.data, name)()).save(buffer, "JPEG", quality=90)
        found[f"{name}.jpg"] = buffer.getvalue()
    for name in ("dog.jpg", "person.jpg", "horses.jpg"):
        path = datasets.data_dir() / "photos" / name
        if path.exists():
            found[name] = path.read_bytes()
    return found


def answer(clf: pretrained.Classifier, files: dict[str, bytes]) -> list[pretrained.Verdict | None]:
    """What the page does with a drop: decode every file, classify the readable ones in one batch."""
    return pretrained.classify_photos(clf, [decode_photo(data, name) for name, data in files.items()])


def timed_ms(fn, repeats: int) -> tuple[float, float]:
    """(median, worst) milliseconds of `repeats` calls after two warm-up calls."""
    for _ in range(2):
        fn()
    times = []
    for _ in range(repeats):
        begin = time.perf_counter()
        fn()
        times.append((time.perf_counter() - begin) * 1000)
    return statistics.median(times), max(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="efficientnet_lite0", choices=list(pretrained.CLASSIFIERS))
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    begin = time.perf_counter()
    clf = pretrained.load_classifier(args.model)
    load_s = time.perf_counter() - begin
    files = photos()
    default_threads = torch.get_num_threads()
    print(f"{args.model} loaded in {load_s:.2f} s; {len(files)} photos; {os.cpu_count()} CPUs")

    result = {"model": args.model, "load_s": load_s, "photos": len(files), "per_photo_ms": {}, "target_ms": TARGET_MS}
    for threads in sorted({default_threads, 1}, reverse=True):
        torch.set_num_threads(threads)
        rows = {}
        for name, data in files.items():
            verdict = answer(clf, {name: data})[0]
            median, worst = timed_ms(lambda data=data, name=name: answer(clf, {name: data}), args.repeats)
            rows[name] = {"median_ms": median, "worst_ms": worst, "verdict": verdict.label}
            print(f"  {threads} thread(s)  {name:12s} {verdict.label:8s} median {median:6.1f}, worst {worst:6.1f} ms")
        drop_median, drop_worst = timed_ms(lambda: answer(clf, files), max(3, args.repeats // 3))
        medians = [r["median_ms"] for r in rows.values()]
        summary = {
            "photos": rows,
            "median_ms": statistics.median(medians),
            "slowest_photo_ms": max(medians),
            "drop_of_all_ms": drop_median,
            "drop_of_all_per_photo_ms": drop_median / len(files),
        }
        result["per_photo_ms"][str(threads)] = summary
        per_photo = summary["drop_of_all_per_photo_ms"]
        print(
            f"  {threads} thread(s): median photo {summary['median_ms']:.1f} ms, "
            f"slowest {summary['slowest_photo_ms']:.1f} ms; "
            f"a drop of all {len(files)}: {drop_median:.0f} ms ({per_photo:.1f} per photo)"
        )
    torch.set_num_threads(default_threads)
    slowest = result["per_photo_ms"][str(default_threads)]["slowest_photo_ms"]
    result["slowest_photo_ms"] = slowest
    result["target_met"] = slowest <= TARGET_MS
    print(f"slowest photo {slowest:.1f} ms, target <= {TARGET_MS:.0f} ms: {'ok' if result['target_met'] else 'MISSED'}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
