"""`laiou` — the command line of the platform: database, sample data, runs and figures."""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict

from laiou_assets import bi_connect, migrations, settings, warehouse
from laiou_assets.superset import launch as superset

DEMO = {"first": "2016-01", "last": "2018-12", "enterprises": 20_000, "seed": 20181231}


def _month(value: str) -> str:
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a month YYYY-MM")
    return value


def _year(value: str) -> str:
    if not re.fullmatch(r"(19|20)\d{2}", value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a year YYYY")
    return value


def cmd_db(args) -> int:
    if args.action == "upgrade":
        with warehouse.connect(warehouse.database_url(start=True)) as conn:
            start, end = migrations.upgrade(conn)
        if start == end:
            print(f"raw and audit are current (revision {end})")
        else:
            print(f"raw and audit upgraded from {start or 'no revision (a new or earlier warehouse)'} to {end}")
        return 0
    if args.action == "url":
        url = warehouse.database_url(start=True)
        if not args.role:
            print(warehouse.as_url(conninfo_to_dict(url)))
            return 0
        with warehouse.connect(url) as conn:
            roles = [r[0] for r in conn.execute("select rolname from pg_roles where rolcanlogin order by 1")]
        if args.role not in roles:
            readers = [r for r in roles if r.startswith("laiou_")] or ["(none yet: run `laiou run` first)"]
            print(
                f"laiou db url: no login role {args.role!r} on this server; laiou's are: {', '.join(readers)}",
                file=sys.stderr,
            )
            return 2
        print(warehouse.with_user(url, args.role))
        return 0
    if settings.database_url():
        print(
            f"LAIOU_DATABASE_URL is set: the warehouse is external ({warehouse.safe_url(settings.database_url())}); "
            "nothing to start or stop",
            file=sys.stderr,
        )
        return 0
    server = warehouse.embedded_server()
    if args.action == "start":
        print(warehouse.database_url(start=True))
    elif args.action == "stop":
        print("stopped" if server.stop() else f"not running ({server.pgdata})")
    elif args.action == "status":
        running = server.is_running()
        print(f"{'running' if running else 'stopped'}: embedded PostgreSQL under {server.pgdata}")
        return 0 if running else 3
    return 0


def _generate(
    out: Path,
    first: str,
    last: str,
    enterprises: int,
    seed: int,
    scale: float | None = None,
    faults=None,
    sidecar: Path | None = None,
) -> None:
    from laiou_assets.generate.landing_zone import GeneratorConfig, generate

    started = time.perf_counter()
    cfg = GeneratorConfig.seed_scale(scale, seed) if scale else GeneratorConfig(first, last, enterprises, seed=seed)
    summary = generate(out, cfg, progress=lambda msg: print(msg, file=sys.stderr), faults=faults, sidecar=sidecar)
    print(f"landing zone written to {out} in {time.perf_counter() - started:.1f}s: {summary}", file=sys.stderr)


def cmd_generate(args) -> int:
    if args.scale is None and not (args.first and args.last):
        print("laiou generate: give --from and --to, or --scale", file=sys.stderr)
        return 2
    from laiou_assets.generate.faults import FaultPlan

    try:
        faults = FaultPlan.parse(args.row_fault, args.file_fault, args.anomaly)
    except ValueError as exc:
        print(f"laiou generate: {exc}", file=sys.stderr)
        return 2
    first, last = (args.first, args.last) if args.scale is None else ("2010-01", "2018-12")
    outside = faults.outside(first.replace("-", ""), last.replace("-", ""))
    if outside:  # a fault asked for and never made would pass unnoticed
        print(f"laiou generate: {', '.join(outside)}: outside the months generated ({first} … {last})", file=sys.stderr)
        return 2
    out = Path(args.out or settings.landing_dir())
    sidecar = Path(args.sidecar) if args.sidecar else None
    _generate(out, args.first, args.last, args.enterprises, args.seed, args.scale, faults, sidecar)
    return 0


def _one_run_at_a_time(what: str):
    """Serialize `laiou run`s (and demos) on the warehouse: a second waits, saying who runs."""
    url = warehouse.database_url(start=True)
    say = lambda message: print(f"laiou {what}: {message}", file=sys.stderr, flush=True)  # noqa: E731
    return warehouse.advisory_lock(url, warehouse.RUN_LOCK, f"laiou {what} (pid {os.getpid()})", say)


def cmd_run(args) -> int:
    from laiou_assets.running import run_everything

    with _one_run_at_a_time("run"):
        return run_everything(args.first, args.last, reload=args.reload, operations=args.operations)


def cmd_demo(args) -> int:
    """Generate a sample landing zone if there is none, load and build everything, print the figures."""
    from laiou_assets.ingest.landing import delivered
    from laiou_assets.running import explain_warnings, print_summary, run_everything

    if not delivered(settings.landing_dir()):
        print(f"no deliveries in {settings.landing_dir()}: generating a sample landing zone", file=sys.stderr)
        _generate(settings.landing_dir(), **DEMO)
    with _one_run_at_a_time("demo"):
        code = run_everything(operations=True)
    explain_warnings()
    print_summary()
    return code


def cmd_status(args) -> int:
    from laiou_assets.status import main as status

    return status()


def cmd_publish(args) -> int:
    """Freeze a year's figures as published; later builds list what changed (marts.figure_revisions)."""
    from laiou_assets.publishing import publish

    with _one_run_at_a_time("publish"):
        return publish(args.year)


def cmd_report(args) -> int:
    """The annual analysis report or the monthly bulletin, Word and HTML, from the marts."""
    from laiou_assets.reporting import report

    return report(args.kind, args.year if args.kind == "annual" else args.month)


def cmd_summary(args) -> int:
    from laiou_assets.running import print_summary

    print_summary()
    return 0


def cmd_docs(args) -> int:
    """dbt's documentation site (every model and column, bilingual, with rule ids) for the warehouse."""
    from laiou_assets.serve import docs

    return docs(args.host, args.port, serve=not args.no_serve)


def cmd_ui(args) -> int:
    """Serve the Dagster UI on 127.0.0.1; Ctrl-C or SIGTERM stops it."""
    from laiou_assets.serve import ui

    return ui(args.host, args.port, read_only=args.read_only)


def cmd_serve(args) -> int:
    """Production: the code server, the daemon and the webserver, supervised, in the foreground."""
    from laiou_assets.serve import serve

    return serve(args.host, args.port, args.code_port)


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The `laiou` command and its subcommands (by name)."""
    parser = argparse.ArgumentParser(prog="laiou", description="各地来沪投资数据采集与统计分析系统 — laiou platform")
    sub = parser.add_subparsers(dest="command", required=True)

    db = sub.add_parser(
        "db",
        help="the warehouse: start|stop|status the embedded server, print its url, or upgrade raw and audit",
        description="start, stop or show the embedded PostgreSQL server; `url` prints an address for psql or a BI "
        "tool; `upgrade` applies the numbered migrations of the raw and audit schemas (laiou_assets/migrations; "
        "also applied on every start)",
    )
    db.add_argument(
        "action",
        choices=["start", "stop", "status", "url", "upgrade"],
        help="start|stop|status: the embedded server; url: its address; upgrade: migrate raw and audit",
    )
    db.add_argument("--role", help="with `url`: the address for this role instead (e.g. laiou_bi)")
    db.set_defaults(func=cmd_db)

    bi = sub.add_parser("bi", help="the BI tool: Superset's dashboards (serve, user) or Metabase (docs/bi.md)")
    bi_sub = bi.add_subparsers(
        dest="bi_action", required=True, metavar="{serve,user,metabase}", help="serve | user | metabase"
    )
    bi_serve = bi_sub.add_parser(
        "serve",
        help="Superset (make bi installs it) on 127.0.0.1:8088 in the foreground, its dashboards imported and "
        "roles provisioned on start; Ctrl-C stops it",
    )
    bi_serve.add_argument("--host", default="127.0.0.1", help="address (default %(default)s: this machine only)")
    bi_serve.add_argument("--port", type=int, default=8088, help="port (default %(default)s)")
    bi_serve.set_defaults(func=superset.serve_command)
    bi_user = bi_sub.add_parser(
        "user", help="create a Superset user, or give one a new role and password (password on standard input)"
    )
    bi_user.add_argument("name", help="the login name")
    bi_user.add_argument("--role", required=True, help="admin | data | office | district:<code> | commission")
    bi_user.set_defaults(func=superset.user_command)
    metabase = bi_sub.add_parser("metabase", help="register the marts in a running Metabase as laiou_bi")
    metabase.add_argument("--url", required=True, help="Metabase's address, e.g. http://metabase.internal:3000")
    metabase.add_argument("--admin", required=True, help="a Metabase administrator's e-mail")
    metabase.set_defaults(func=bi_connect.metabase_command)

    gen = sub.add_parser("generate", help="write a synthetic landing zone (feeds.md)")
    gen.add_argument("--out", help="landing zone directory (default $LAIOU_LANDING_DIR)")
    gen.add_argument("--from", dest="first", type=_month, help="first month YYYY-MM (with --to; or give --scale)")
    gen.add_argument("--to", dest="last", type=_month, help="last month YYYY-MM (with --from)")
    gen.add_argument(
        "--scale",
        type=float,
        help="share of the seed scale: 2010-01 … 2018-12 reproducing the 2018 report (1,249,760 cumulative, "
        "218,473 new 来沪) × scale, tax and statistics for 2018; --from/--to/--enterprises are then ignored",
    )
    gen.add_argument("--enterprises", type=int, default=10_000, help="Shanghai enterprises (default 10,000)")
    gen.add_argument(
        "--seed",
        type=int,
        default=20181231,
        help="random seed: the same seed and arguments give the same files (default %(default)s)",
    )
    gen.add_argument(
        "--row-fault",
        action="append",
        default=[],
        metavar="REASON=RATE",
        help="put a row-level fault of feeds.md (field_count, missing_field, bad_date, bad_number, invalid_uscc, "
        "unknown_code, duplicate_key, or all) into that share of every delivery's records; repeatable",
    )
    gen.add_argument(
        "--file-fault",
        action="append",
        default=[],
        metavar="FAULT=FEED/YYYY-MM",
        help="break one delivery: manifest_missing, manifest_unreadable, csv_missing, sha256_mismatch, "
        "missing_column, unknown_column, undecodable, row_count or control_total; repeatable",
    )
    gen.add_argument(
        "--anomaly",
        action="append",
        default=[],
        metavar="KIND=FEED/YYYY-MM",
        help="a delivery that loads but that the inspection checks flag: late, missing, short, skewed, orphans "
        "or repeated (docs/generator.md); repeatable",
    )
    gen.add_argument(
        "--sidecar",
        help="where to record formats, corrections and injected faults (default: <out>.sidecar beside the zone)",
    )
    gen.set_defaults(func=cmd_generate)

    run = sub.add_parser("run", help="load every delivered month through Dagster, then build the marts")
    run.add_argument("--from", dest="first", type=_month, help="first month YYYY-MM (default: all)")
    run.add_argument("--to", dest="last", type=_month, help="last month YYYY-MM (default: all)")
    run.add_argument("--reload", action="store_true", help="load every delivery again, not only new ones")
    run.add_argument(
        "--operations",
        action="store_true",
        help="then also back up the warehouse (proven by a restore) and write the inspection report of the last "
        "delivered month and its year's summary (`laiou demo` does; in production the schedules do)",
    )
    run.set_defaults(func=cmd_run)

    demo = sub.add_parser("demo", help="sample landing zone (if none) + run + summary")
    demo.set_defaults(func=cmd_demo)

    status = sub.add_parser(
        "status",
        help="one screen for the operator: warehouse, daemon, last deliveries, failed months, incidents, "
        "freshness of the marts, next ticks; exits 1 when something needs a person (for a monitoring probe)",
    )
    status.set_defaults(func=cmd_status)

    publish = sub.add_parser(
        "publish",
        help="freeze a year's summary, province, district and industry figures as published "
        "(marts.published_figures); every later build lists what changed since (marts.figure_revisions)",
    )
    publish.add_argument("--year", type=int, required=True, help="the year to publish, YYYY")
    publish.set_defaults(func=cmd_publish)

    report = sub.add_parser("report", help="write the annual analysis report or the monthly bulletin (Word, HTML)")
    kinds = report.add_subparsers(
        dest="kind", required=True, help="annual: a year's analysis report; monthly: a month's bulletin"
    )
    annual = kinds.add_parser("annual", help="《各地来沪投资企业统计分析报告（YYYY年）》 of a year")
    annual.add_argument("--year", required=True, type=_year, help="the year, YYYY")
    monthly = kinds.add_parser("monthly", help="《来沪投资企业月度快报》 of a month")
    monthly.add_argument("--month", required=True, type=_month, help="the data month, YYYY-MM")
    report.set_defaults(func=cmd_report)

    summary = sub.add_parser("summary", help="print marts.mart_laiou_summary_year")
    summary.set_defaults(func=cmd_summary)

    docs = sub.add_parser("docs", help="generate dbt's documentation site and serve it on 127.0.0.1:8080")
    docs.add_argument(
        "--host", default="127.0.0.1", help="address to serve on (default %(default)s: this machine only)"
    )
    docs.add_argument("--port", type=int, default=8080, help="port (default %(default)s)")
    docs.add_argument("--no-serve", action="store_true", help="only generate it")
    docs.set_defaults(func=cmd_docs)

    ui = sub.add_parser("ui", help="serve the Dagster UI")
    ui.add_argument("--host", default="127.0.0.1", help="address of the UI (default %(default)s: this machine only)")
    ui.add_argument("--port", type=int, help="default 3000, or 3001 with --read-only")
    ui.add_argument("--read-only", action="store_true", help="viewers: nothing can be launched or switched")
    ui.set_defaults(func=cmd_ui)

    serve = sub.add_parser(
        "serve",
        help="production: the Dagster webserver (127.0.0.1:3000), daemon and code server as one supervised group "
        "in the foreground; a crashed one is restarted, Ctrl-C or SIGTERM stops all (logs in $LAIOU_HOME/logs)",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address of the UI (default 127.0.0.1: this machine only)")
    serve.add_argument("--port", type=int, default=3000, help="port of the UI (default 3000)")
    serve.add_argument("--code-port", type=int, default=4266, help="port of the code server (default 4266)")
    serve.set_defaults(func=cmd_serve)

    for action in sub._choices_actions:  # each command's --help opens with what it does
        command = sub.choices[action.dest]
        command.description = command.description or action.help
    return parser, dict(sub.choices)


def main(argv: list[str] | None = None) -> int:
    parser, commands = build_parser()
    args = parser.parse_args(argv)
    first, last = getattr(args, "first", None), getattr(args, "last", None)
    if first and last and first > last:
        command = commands[args.command]
        command.error(f"--from {first} is after --to {last}: the range is empty (give the earlier month first)")
    try:
        settings.current()  # a bad value of a variable: said before anything starts
        return args.func(args)
    except settings.SettingError as exc:
        print(f"laiou: {exc}; see the README's configuration table", file=sys.stderr)
        return 2
    except warehouse.WarehouseError as exc:
        print(f"laiou: {exc}", file=sys.stderr)
        return 2
    except psycopg.OperationalError as exc:  # unreachable server, refused login: one line, no traceback
        reason = (
            " ".join(str(exc).split()).removeprefix("connection failed: ").replace(" Is the server", ". Is the server")
        )
        try:
            where = warehouse.safe_url(warehouse.database_url(start=False))
        except warehouse.WarehouseError:
            where = f"(the embedded server under {warehouse.embedded_server().pgdata})"
        print(
            f"laiou: cannot reach the warehouse {where}: "
            f"{reason.rstrip('.?')}. "
            + (
                "Check LAIOU_DATABASE_URL, or unset it to use the embedded server."
                if settings.database_url()
                else "Run `laiou db start`."
            ),
            file=sys.stderr,
        )
        return 2


if __name__ == "__main__":
    sys.exit(main())
