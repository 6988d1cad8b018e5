"""The monthly path end to end (issue #18): a month's delivery from landed files to every mart current.

On a landing zone loaded and built up to month M−1 (the set-up, not timed), times in the same run:

- month M: `laiou run` for the month's four deliveries: load, inspection checks, the models and tax months
  the automation requests (incremental), until every mart is current; then the district packages it
  writes from them, and the whole run;
- nothing new: `laiou run` again, with nothing delivered since;
- full rebuild: every model rebuilt whole (`build_marts` with `full_refresh`) and every tax month;
- baseline: copying every raw table once inside PostgreSQL, the least a build that reads all data must do.

Prints each time, the ratios issue #18 sets targets for, the warehouse's size and the peak memory of
laiou's process and of dbt's (the PostgreSQL server's own memory is not included).

    .venv/bin/python bench/pipeline.py --scale 0.25          # a share of the seed scale (generated)
    .venv/bin/python bench/pipeline.py --landing DIR         # an existing landing zone
"""

import argparse
import contextlib
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from build import baseline_copy  # bench/build.py: the same baseline
from memory import peak_gb, reset_peak

TARGETS = {"month": 90.0, "full": 240.0, "full_ratio": 6.0, "nothing": 5.0, "memory_gb": 2.0}  # issue #18


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.05, help="share of the seed scale to generate")
    parser.add_argument("--landing", type=Path, help="an existing landing zone (default: generate one)")
    parser.add_argument("--keep", action="store_true", help="keep the warehouse and zone (path printed)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="laiou-bench-pipeline-"))
    os.environ["LAIOU_HOME"] = str(work / "home")
    os.environ["DAGSTER_HOME"] = str(work / "home" / "dagster")
    os.environ["LAIOU_LANDING_DIR"] = str(args.landing or work / "landing")
    os.environ.pop("LAIOU_DATABASE_URL", None)

    import dagster as dg
    import psycopg

    from laiou_assets import settings, warehouse
    from laiou_assets.definitions import defs
    from laiou_assets.ingest.landing import scan
    from laiou_assets.keys import DISTRICT_PACKAGES, RANGE_END, RANGE_START, SUMMARY_MART, TAX_FACTS
    from laiou_assets.running import run_everything

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    def timed(step, *a, **kw) -> float:
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(sys.stderr):
            assert step(*a, **kw) == 0, f"{step.__name__} failed (its log: {settings.laiou_home() / 'logs'})"
        return time.perf_counter() - t0

    try:
        if not args.landing:
            from laiou_assets.generate.landing_zone import GeneratorConfig, generate

            t0 = time.perf_counter()
            generate(settings.landing_dir(), GeneratorConfig.seed_scale(args.scale), progress=lambda _: None)
            say(f"generated scale {args.scale} in {time.perf_counter() - t0:.0f}s")
        months = sorted({d.partition_key[:7] for d in scan(settings.landing_dir()).deliveries})
        previous, month = months[-2], months[-1]
        say(f"set-up: loading and building {months[0]} … {previous} (not timed)")
        setup = timed(run_everything, last=previous)
        say(f"  set-up took {setup:.0f}s; now month {month}")
        reset_peak()  # laiou's peak from here: not the generator's, nor the set-up's 107 loads

        d = defs()
        instance = dg.DagsterInstance.get()
        started = time.time()
        month_s = timed(run_everything, last=month)
        # When the marts were current (the last of the summary and the tax facts built) and when the district
        # packages that follow them were written, counted from the start of the month's run.
        marts_s, packages_s = (
            max(instance.get_latest_materialization_event(k).timestamp for k in keys) - started
            for keys in ((SUMMARY_MART, TAX_FACTS), (DISTRICT_PACKAGES,))
        )
        nothing_s = timed(run_everything)
        quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}

        def job(name: str, **kwargs) -> int:
            with contextlib.redirect_stdout(sys.stderr):
                result = d.resolve_job_def(name).execute_in_process(instance=instance, raise_on_error=False, **kwargs)
            return 0 if result.success else 1

        full_config = {**quiet, "ops": {"laiou_dbt_models": {"config": {"full_refresh": True}}}}
        models_s = timed(job, "build_marts", run_config=full_config)
        first, last = months[0] + "-01", month + "-01"
        facts_s = timed(job, "refresh_tax_facts", run_config=quiet, tags={RANGE_START: first, RANGE_END: last})
        full_s = models_s + facts_s

        url = warehouse.database_url()
        with psycopg.connect(url, autocommit=True) as conn:
            baseline_s, rows = baseline_copy(conn)
            size = conn.execute("select pg_database_size(current_database())").fetchone()[0]

        memory = {
            "laiou": peak_gb(),
            "dbt": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20,
        }
        print(f"monthly path, {sum(rows.values()):,} raw rows ({', '.join(f'{k} {v:,}' for k, v in rows.items())})")
        print(f"  warehouse size                         {size / 2**30:7.2f} GB")
        print(f"  baseline: copy every raw table once    {baseline_s:7.2f}s")
        print(f"  month {month}: every mart current after {marts_s:7.1f}s  (target ≤ {TARGETS['month']:.0f}s)")
        print(f"    its district packages written after  {packages_s:7.1f}s")
        print(f"    laiou run done after                  {month_s:7.1f}s")
        print(f"  nothing new                            {nothing_s:7.1f}s  (target ≤ {TARGETS['nothing']:.0f}s)")
        print(
            f"  full rebuild (models + tax months)     {full_s:7.1f}s  ({models_s:.1f}s + {facts_s:.1f}s; "
            f"target ≤ {TARGETS['full']:.0f}s)"
        )
        if baseline_s >= 1:  # below a second the baseline is mostly PostgreSQL's per-statement overhead
            print(
                f"  ratio full / baseline                  {full_s / baseline_s:7.1f}×  "
                f"(target ≤ {TARGETS['full_ratio']:.0f}×)"
            )
        else:
            print("  ratio full / baseline                        —  (the baseline is under a second at this scale)")
        print(f"  ratio month (marts current) / full     {marts_s / full_s:7.2f}")
        print(
            f"  peak memory: laiou {memory['laiou']:.2f} GB (month M, nothing new, full rebuild), "
            f"its largest child (dbt; an upper bound: a child's counts what it inherits) {memory['dbt']:.2f} GB "
            f"(target ≤ {TARGETS['memory_gb']:.0f} GB each; the server's own not counted)"
        )
    finally:
        if args.keep:
            say(f"kept: {work}")
        else:
            with contextlib.suppress(Exception):
                warehouse.embedded_server().stop()
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
