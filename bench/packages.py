"""A district package's enterprise sheet (区县数据包, issue #18 step 4): time and peak memory of laiou's writer
against openpyxl's ordinary workbook, in the same run.

Both write the same N synthetic enterprise rows (eleven columns, Chinese names, dates) to an .xlsx:

- baseline: openpyxl's in-memory `Workbook()`, `sheet.append(row)` and nothing else (no text protection,
  no formats, no table layout): every cell is an object in memory until the file is saved;
- laiou: `exports.district_packages._Table` in a write-only workbook, as `write_district_packages` does:
  every string stored as text, bold header and total, date formats, frozen and filtered header.

Each runs in a fresh process, so that its peak memory (VmHWM) is its own. The seed scale's largest
district holds about 200,000 来沪 enterprises.

    .venv/bin/python bench/packages.py [--rows 200000]
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from memory import peak_gb

WIDTHS = [20, 36, 22, 10, 14, 8, 6, 30, 12, 6, 12]


def rows(n: int):
    for i in range(n):
        yield [f"91310000{i:010d}", f"上海某某{i}科技有限公司", "制造业", "C39", "江苏省", "直接", 1,
               f"江苏某投资{i % 5000}有限公司", date(2015, 1, 1 + i % 28), "在营", date(2016, 1, 1)]  # fmt: skip


def write(kind: str, n: int, out: Path) -> dict:
    from openpyxl import Workbook

    from laiou_assets.exports import district_packages as packages

    started = time.perf_counter()
    if kind == "baseline":
        book = Workbook()
        for row in rows(n):
            book.active.append(row)
    else:
        book = Workbook(write_only=True)
        sheet = packages._Table(
            book.create_sheet("来沪企业 enterprises"), WIDTHS, {"I": "yyyy-mm-dd", "K": "yyyy-mm-dd"},
            "bench", packages.ENTERPRISE_HEADERS,
        )  # fmt: skip
        for row in rows(n):
            sheet.append(row)
        sheet.total(["合计 total", f"{n:,}"])
    book.save(out)
    return {
        "seconds": time.perf_counter() - started,
        "peak_mb": peak_gb() * 1024,  # VmHWM, not ru_maxrss (bench/memory.py)
        "bytes": out.stat().st_size,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000, help="enterprises in the sheet")
    parser.add_argument("--one", choices=["baseline", "laiou"], help=argparse.SUPPRESS)  # the child process
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(write(args.one, args.rows, args.out)))
        return
    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        for kind in ("baseline", "laiou"):
            print(f"{kind}: writing {args.rows:,} rows …", file=sys.stderr, flush=True)
            argv = [
                sys.executable,
                __file__,
                "--rows",
                str(args.rows),
                "--one",
                kind,
                "--out",
                f"{scratch}/{kind}.xlsx",
            ]
            done = subprocess.run(argv, capture_output=True, text=True, check=True)
            results[kind] = json.loads(done.stdout)
    base, ours = results["baseline"], results["laiou"]
    for kind, r in results.items():
        print(f"{kind:<9} {r['seconds']:6.1f} s  peak {r['peak_mb']:6.0f} MB  {r['bytes'] / 1e6:5.1f} MB file")
    ratios = ours["seconds"] / base["seconds"], ours["peak_mb"] / base["peak_mb"]
    print(f"laiou / baseline: time {ratios[0]:.2f}×, peak memory {ratios[1]:.2f}×")


if __name__ == "__main__":
    main()
