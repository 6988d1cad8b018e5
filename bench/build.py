"""dbt build speed: a full build of every model and a one-month refresh of the tax facts (issue #5).

Loads a landing zone into a scratch warehouse (the loads of `laiou run`), then times, in the same run:

- baseline: copying every raw table once inside PostgreSQL (`create table … as select * from raw.<feed>`),
  the least any build that reads all the data must do;
- full build: the `build_marts` job (seeds, staging, intermediate, marts, dbt tests) and the
  `refresh_tax_facts` job over every month in one run, as `laiou run` does;
- one-month refresh: `refresh_tax_facts` for the last month (issue #5 asks under 60 s at seed scale).

The first `build_marts` creates every relation; the timings are of that first, complete build.

    .venv/bin/python bench/build.py [--enterprises 20000 --from 2016-01 --to 2018-12] [--landing DIR]
"""

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--landing", type=Path, help="an existing landing zone (default: generate one)")
    parser.add_argument("--enterprises", type=int, default=20_000)
    parser.add_argument("--from", dest="first", default="2016-01")
    parser.add_argument("--to", dest="last", default="2018-12")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="laiou-bench-build-"))
    os.environ["LAIOU_HOME"] = str(work / "home")
    os.environ["DAGSTER_HOME"] = str(work / "home" / "dagster")
    if args.landing:
        os.environ["LAIOU_LANDING_DIR"] = str(args.landing)
    os.environ.pop("LAIOU_DATABASE_URL", None)

    import dagster as dg
    import psycopg

    from laiou_assets import settings, warehouse
    from laiou_assets.definitions import defs
    from laiou_assets.keys import RANGE_END, RANGE_START
    from laiou_assets.partitions import monthly_partitions
    from laiou_assets.running import print_summary, run_everything

    try:
        if not args.landing:
            _generate(settings.landing_dir(), args)
        started = time.perf_counter()
        with contextlib.redirect_stdout(sys.stderr):
            assert run_everything(build=False) == 0, "loading failed"
        print(f"  loaded in {time.perf_counter() - started:.0f}s", file=sys.stderr)

        url = warehouse.database_url()
        with psycopg.connect(url, autocommit=True) as conn:
            baseline, rows = baseline_copy(conn)
            last_month = conn.execute("select max(_period)::text from raw.tax_payment").fetchone()[0]

        d = defs()
        instance = dg.DagsterInstance.get()
        quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}

        def timed(job: str, **kwargs) -> float:
            t0 = time.perf_counter()
            with contextlib.redirect_stdout(sys.stderr):
                result = d.resolve_job_def(job).execute_in_process(
                    instance=instance, run_config=quiet, raise_on_error=False, **kwargs
                )
            assert result.success, f"{job} failed"
            return time.perf_counter() - t0

        marts = timed("build_marts")
        first_month = monthly_partitions.get_first_partition_key()
        facts = timed("refresh_tax_facts", tags={RANGE_START: first_month, RANGE_END: last_month})
        month = timed("refresh_tax_facts", partition_key=last_month)

        print(f"dbt build: {sum(rows.values()):,} raw rows ({', '.join(f'{k} {v:,}' for k, v in rows.items())})")
        print(f"  baseline: copy every raw table once   {baseline:7.1f}s")
        print(f"  full build (build_marts + tax facts)  {marts + facts:7.1f}s  ({marts:.1f}s + {facts:.1f}s)")
        print(f"  ratio                                 {(marts + facts) / baseline:7.1f}×  full build / baseline")
        print(f"  one-month refresh ({last_month[:7]})       {month:7.1f}s  (issue #5: under 60 s at seed scale)")
        print_summary()  # the headline figures of this zone, per year
    finally:
        with contextlib.suppress(Exception):
            warehouse.embedded_server().stop()
        shutil.rmtree(work, ignore_errors=True)


def baseline_copy(conn) -> tuple[float, dict[str, int]]:
    """Seconds to copy every raw table once inside PostgreSQL (the copies then dropped), and each one's rows."""
    rows = {f: conn.execute(f"select count(*) from raw.{f}").fetchone()[0] for f in _feeds()}
    started = time.perf_counter()
    for feed in _feeds():
        conn.execute(f"create table bench_{feed} as select * from raw.{feed}")
    baseline = time.perf_counter() - started
    for feed in _feeds():
        conn.execute(f"drop table bench_{feed}")
    return baseline, rows


def _feeds() -> list[str]:
    from laiou_assets.contract import FEEDS

    return list(FEEDS)


def _generate(landing: Path, args) -> None:
    from laiou_assets.generate.landing_zone import GeneratorConfig, generate

    started = time.perf_counter()
    cfg = GeneratorConfig(args.first, args.last, args.enterprises, seed=5)
    generate(landing, cfg, progress=lambda _: None)
    print(f"  generated {landing} in {time.perf_counter() - started:.0f}s", file=sys.stderr)


if __name__ == "__main__":
    main()
