"""Generator speed: 100k enterprises over two years (issue #2: under a minute), or the seed scale (`--scale 1.0`,
issue #3: under 10 minutes and 8 GB).

Prints the generation time, rows and bytes written, peak memory, and the ratio against a baseline
measured in the same run: writing the same number of bytes to the same disk with one plain write.

    .venv/bin/python bench/generate.py [--enterprises 100000] [--from 2017-01] [--to 2018-12]
    .venv/bin/python bench/generate.py --scale 1.0
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from pathlib import Path

from laiou_assets.generate.landing_zone import GeneratorConfig, generate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--enterprises", type=int, default=100_000)
    parser.add_argument("--from", dest="first", default="2017-01")
    parser.add_argument("--to", dest="last", default="2018-12")
    parser.add_argument("--scale", type=float, help="a share of the seed scale instead (2010-01 … 2018-12)")
    parser.add_argument("--keep", type=Path, help="write the landing zone here and keep it (e.g. for bench/build.py)")
    args = parser.parse_args()
    if args.scale:
        cfg = GeneratorConfig.seed_scale(args.scale, seed=1)
        args.first, args.last, args.enterprises = cfg.first_month, cfg.last_month, cfg.enterprises
    else:
        cfg = GeneratorConfig(args.first, args.last, args.enterprises, seed=1)
    work = Path(tempfile.mkdtemp(prefix="laiou-bench-"))
    try:
        started = time.perf_counter()
        landing = args.keep or work / "landing"
        summary = generate(landing, cfg, progress=lambda _: None)
        seconds = time.perf_counter() - started
        files = list(landing.rglob("*.csv"))
        size = sum(f.stat().st_size for f in files)
        rows = sum(v for k, v in summary.items() if k.endswith("_rows"))

        blob = b"x" * size
        started = time.perf_counter()
        with open(work / "baseline.bin", "wb") as f:
            f.write(blob)
        baseline = time.perf_counter() - started

        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"generate {args.enterprises:,} enterprises, {summary['months']} months ({args.first} … {args.last})")
        print(f"  rows written        {rows:>14,}  ({summary['tax_payment_rows']:,} tax vouchers)")
        print(f"  CSV bytes           {size:>14,}  in {len(files)} files")
        print(f"  generation          {seconds:>13.1f}s  ({rows / seconds:,.0f} rows/s)")
        print(f"  baseline write      {baseline:>13.2f}s  (same bytes, one plain write)")
        print(f"  ratio               {seconds / baseline:>13.1f}×  generation / baseline write")
        print(f"  peak memory         {peak_mib:>11,.0f} MiB")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
