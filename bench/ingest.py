"""Ingestion speed: one month of tax vouchers through `load_delivery` against psql's \\copy (issue #4).

Both load the same generated file into the same embedded PostgreSQL, alternately, `--repeat` times:

- baseline: `psql -c "\\copy bench.unvalidated from 'file' csv header"`, a table with raw.tax_payment's
  column types and nothing else: no checks, no quarantine, no audit, no line numbers;
- laiou: `load_delivery` (hash, decode, every row check of feeds.md, quarantine, COPY, audit), each run in
  a fresh process so that its peak memory is measured too.

Prints both rates (median of the runs), the ratio laiou / baseline (issue #4 asks ≥ 0.8) and peak memory.

    .venv/bin/python bench/ingest.py [--enterprises 300000] [--repeat 3] [--faults 0.001]
    .venv/bin/python bench/ingest.py --landing DIR --month 201812   # a month already generated
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from memory import peak_gb

from laiou_assets.contract import FEEDS
from laiou_assets.ingest.landing import Delivery

FEED = "tax_payment"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--enterprises", type=int, default=300_000, help="generator size when no --landing")
    parser.add_argument("--landing", type=Path, help="use this landing zone instead of generating one")
    parser.add_argument("--month", default="201812", help="delivery month YYYYMM")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: one timed laiou load, in a fresh process
    args = parser.parse_args()
    if args.one:
        return _one_load(args.one, args.landing, args.month)

    work = Path(tempfile.mkdtemp(prefix="laiou-bench-ingest-"))
    server = None
    try:
        landing = args.landing or _generate(work / "landing", args.enterprises, args.month)
        delivery = Delivery(FEED, args.month)
        csv_path = delivery.csv_path(landing)
        rows = json.loads(delivery.manifest_path(landing).read_text())["rows"]
        url, server, psql = _database(work)

        with psycopg.connect(url, autocommit=True) as conn:
            cols = ", ".join(f"{c.name} {c.sql_type}" for c in FEEDS[FEED].columns)
            conn.execute(
                f"drop schema if exists bench cascade; create schema bench; create table bench.unvalidated ({cols})"
            )
        header = csv_path.open(encoding="utf-8-sig").readline().strip()

        def baseline() -> float:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("truncate bench.unvalidated")
            started = time.perf_counter()
            subprocess.run(
                [
                    psql,
                    url,
                    "-q",
                    "-v",
                    "ON_ERROR_STOP=1",
                    "-c",
                    f"\\copy bench.unvalidated ({header}) from '{csv_path}' csv header",
                ],
                check=True,
            )
            return time.perf_counter() - started

        def laiou() -> tuple[float, float, int, int]:
            out = subprocess.run(
                [sys.executable, __file__, "--one", url, "--landing", str(landing), "--month", args.month],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            seconds, peak, loaded, quarantined = out.split()
            return float(seconds), float(peak), int(loaded), int(quarantined)

        baseline()  # warm-up: the first COPY into a fresh cluster is markedly slower
        base_runs, ours_runs = [], []
        for i in range(args.repeat):
            base_runs.append(baseline())
            ours_runs.append(laiou())
            print(f"  run {i + 1}: baseline {base_runs[-1]:.2f}s, laiou {ours_runs[-1][0]:.2f}s", file=sys.stderr)
        base = statistics.median(base_runs)
        ours = statistics.median(r[0] for r in ours_runs)
        peak = max(r[1] for r in ours_runs)
        _, _, loaded, quarantined = ours_runs[-1]
        size = csv_path.stat().st_size
        print(f"ingest {FEED} {args.month}: {rows:,} rows, {size / 2**20:,.0f} MiB ({csv_path})")
        print(f"  loaded / quarantined    {loaded:,} / {quarantined:,}")
        print(f"  psql \\copy (baseline)   {base:6.2f}s  {rows / base:>12,.0f} rows/s   (median of {args.repeat})")
        print(f"  laiou load_delivery     {ours:6.2f}s  {rows / ours:>12,.0f} rows/s   (median of {args.repeat})")
        print(f"  ratio                   {base / ours:6.2f}×  laiou throughput / baseline (issue #4: ≥ 0.8)")
        print(f"  peak memory (laiou)     {peak:6.0f} MiB  (the loading process)")
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)


def _generate(landing: Path, enterprises: int, month: str) -> Path:
    from laiou_assets.generate.landing_zone import GeneratorConfig, generate

    first = f"{month[:4]}-{month[4:]}"
    started = time.perf_counter()
    generate(landing, GeneratorConfig(first, first, enterprises, seed=4), progress=lambda _: None)
    print(f"  generated {landing} in {time.perf_counter() - started:.0f}s", file=sys.stderr)
    return landing


def _database(work: Path):
    """(url, server to stop or None, psql path): LAIOU_DATABASE_URL, else a scratch embedded server."""
    from laiou_assets.warehouse import EmbeddedServer

    server = EmbeddedServer(work / "pg")
    psql = str(server.bin_dir / "psql")
    if os.environ.get("LAIOU_DATABASE_URL"):
        return os.environ["LAIOU_DATABASE_URL"], None, shutil.which("psql") or psql
    return server.start(), server, psql


def _one_load(url: str, landing: Path, month: str) -> None:
    from laiou_assets.ingest.loader import load_delivery

    with psycopg.connect(url, autocommit=True) as conn:
        started = time.perf_counter()
        result = load_delivery(conn, Delivery(FEED, month), landing)
        seconds = time.perf_counter() - started
    print(seconds, peak_gb() * 1024, result.loaded, result.quarantined)  # MiB; not ru_maxrss (bench/memory.py)


if __name__ == "__main__":
    main()
