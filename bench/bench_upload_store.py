"""Time the upload store (app/uploads.keep): writing a ledger-sized file whole (temporary name, fsync, rename,
folder fsync), finding the same upload already kept (its size and hash checked), and checking a kept file.

    .venv/bin/python bench/bench_upload_store.py [--folder DIR] [--runs 5]

The folder defaults to a temporary one under $TMPDIR: put it on the disk the stores live on, since
fsync costs what that disk costs. Prints the median of --runs for 1 MB and 50 MB (the import limit)
against targets: a 50 MB write under 1 s, a check of a kept 50 MB file under 0.3 s.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import uploads  # noqa: E402

TARGETS = {"write": 1.0, "again": 0.3}  # seconds, for 50 MB


def median_time(step, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        step()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", default=None)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.folder) as folder:
        for mb in (1, 50):
            data = os.urandom(mb * 1024 * 1024)
            counter = iter(range(10**6))
            write = median_time(lambda: uploads.keep(folder, f"new-{next(counter)}.xlsx", data), args.runs)
            uploads.keep(folder, "same.xlsx", data)
            again = median_time(lambda: uploads.keep(folder, "same.xlsx", data), args.runs)
            line = f"{mb:>3} MB: write {write * 1000:7.1f} ms   same upload again (checked) {again * 1000:7.1f} ms"
            if mb == 50:
                line += (f"   targets: write < {TARGETS['write']:.1f} s {'ok' if write < TARGETS['write'] else 'MISSED'},"
                         f" again < {TARGETS['again']:.1f} s {'ok' if again < TARGETS['again'] else 'MISSED'}")
            print(line)
            for file in Path(folder).iterdir():
                file.unlink()


if __name__ == "__main__":
    main()
