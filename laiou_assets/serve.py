"""`laiou serve`: the production deployment in the foreground, as one supervised group.

Three Dagster processes: the code server (the laiou code location over gRPC, loaded once), the daemon
(schedules, sensors, run queue and monitoring) and the webserver (the UI on 127.0.0.1:3000); and Superset
(`laiou bi serve`, 127.0.0.1:8088) when `make bi` installed it (LAIOU_BI_SERVE). A child that
exits is started again after a back-off (1 s, doubling to 60 s; reset after a minute of good running), and
every start and exit is logged. SIGINT, SIGTERM or SIGHUP stops all three (SIGTERM, then SIGKILL after a grace
period) and `laiou serve` exits 0. Each child's output goes to `$LAIOU_HOME/logs/<name>.log`; the
supervisor's own lines go to standard error and `$LAIOU_HOME/logs/serve.log`.
"""

from __future__ import annotations

import fcntl
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from laiou_assets import migrations, settings, warehouse

CODE_SERVER_PORT = 4266
GRACE_SECONDS = 15
HEALTHY_AFTER = 60.0  # seconds of running after which a child's back-off starts again at 1 s


@dataclass
class Child:
    name: str
    argv: list[str]
    log: Path
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    backoff: float = 1.0
    next_start: float = 0.0
    restarts: int = field(default=0)


class Supervisor:
    def __init__(self, children: list[Child], env: dict[str, str], log: Path):
        self.children, self.env, self.log = children, env, log
        self.stopping = False

    def say(self, message: str) -> None:
        line = f"{datetime.now():%Y-%m-%d %H:%M:%S} laiou serve: {message}"
        print(line, file=sys.stderr, flush=True)
        with self.log.open("a", encoding="utf-8") as out:
            out.write(line + "\n")

    def _start(self, child: Child) -> None:
        with child.log.open("ab") as out:
            # Its own process group: a Ctrl-C in the terminal reaches the supervisor, which stops the children
            # in order, rather than every process at once.
            child.process = subprocess.Popen(
                child.argv, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        child.started_at = time.monotonic()
        self.say(f"started {child.name} (pid {child.process.pid}), log {child.log}")

    def _reap(self, child: Child, now: float) -> None:
        code = child.process.returncode
        ran = now - child.started_at
        delay = 1.0 if ran >= HEALTHY_AFTER else child.backoff
        child.backoff = min(delay * 2, 60.0)  # the next crash in a row waits twice as long
        child.next_start, child.process = now + delay, None
        child.restarts += 1
        self.say(
            f"{child.name} exited with code {code} after {ran:.0f}s; restart {child.restarts} in {delay:.0f}s "
            f"(see {child.log})"
        )

    def _stop(self, *_signal) -> None:
        self.stopping = True

    def run(self) -> int:
        for stop_on in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # SIGHUP: the terminal closed
            signal.signal(stop_on, self._stop)
        try:
            for child in self.children:
                self._start(child)
            while not self.stopping:
                now = time.monotonic()
                for child in self.children:
                    if child.process is not None and child.process.poll() is not None:
                        self._reap(child, now)
                    if child.process is None and now >= child.next_start and not self.stopping:
                        self._start(child)
                time.sleep(0.5)
        finally:  # whatever ends the loop, no child is left running unsupervised
            self._stop_children()
        return 0

    def _stop_children(self) -> None:
        self.say("stopping …")
        for child in reversed(self.children):  # the webserver first, the code server last
            if child.process is not None and child.process.poll() is None:
                os.killpg(child.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + GRACE_SECONDS
        for child in self.children:
            if child.process is None:
                continue
            try:
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.say(f"{child.name} did not stop within {GRACE_SECONDS}s: killed")
                os.killpg(child.process.pid, signal.SIGKILL)
                child.process.wait()
        self.say("stopped")


def workspace_file(port: int) -> Path:
    """A workspace that reaches the code server over gRPC (the webserver and daemon load no code)."""
    path = settings.dagster_home() / "workspace_serve.yaml"
    path.write_text(
        f"load_from:\n  - grpc_server:\n      host: 127.0.0.1\n      port: {port}\n      location_name: laiou\n",
        encoding="utf-8",
    )
    return path


def children(host: str, port: int, code_port: int, logs: Path) -> list[Child]:
    bin_dir = Path(sys.executable).parent
    workspace = str(workspace_file(code_port))
    return [
        Child(
            "code-server",
            [
                str(bin_dir / "dagster"),
                "code-server",
                "start",
                "-h",
                "127.0.0.1",
                "-p",
                str(code_port),
                "-m",
                "laiou_assets.definitions",
                "--location-name",
                "laiou",
            ],
            logs / "code-server.log",
        ),
        Child("daemon", [str(bin_dir / "dagster-daemon"), "run", "-w", workspace], logs / "daemon.log"),
        Child(
            "webserver",
            [str(bin_dir / "dagster-webserver"), "-w", workspace, "-h", host, "-p", str(port)],
            logs / "webserver.log",
        ),
    ] + ([Child("superset", [str(bin_dir / "laiou"), "bi", "serve"], logs / "superset.log")] if serves_bi() else [])


def serves_bi() -> bool:
    """Superset joins the group when `make bi` installed it (LAIOU_BI_SERVE=auto), or when asked (on)."""
    from laiou_assets.superset import launch

    wanted = settings.current().bi_serve
    return wanted == "on" or (wanted == "auto" and launch.installed())


def serve(host: str = "127.0.0.1", port: int = 3000, code_port: int = CODE_SERVER_PORT) -> int:
    from laiou_assets.defs.dbt.project import dbt_project

    if port_in_use(code_port):  # its daemon and webserver would run this installation's work on another's server
        print(
            f"laiou serve: port {code_port} on 127.0.0.1, for the code server, is in use (another installation's "
            "`laiou serve`?); give this one another with --code-port",
            file=sys.stderr,
        )
        return 2
    warehouse.ensure_dagster_instance()
    url = warehouse.database_url(start=True)
    with warehouse.connect(url) as conn:
        migrations.ensure_current(conn)  # the raw and audit schemas, before the sensors look at them
    dbt_project()  # the dbt manifest must exist before the code location loads
    logs = settings.laiou_home() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "LAIOU_DATABASE_URL": url,  # every child reaches the same server without starting it again
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    with (settings.laiou_home() / "serve.lock").open("a") as lock:
        try:  # one supervised group per installation: a second daemon would run every schedule twice
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(
                f"laiou serve: already running for {settings.laiou_home()} (see {logs / 'serve.log'})", file=sys.stderr
            )
            return 2
        supervisor = Supervisor(children(host, port, code_port, logs), env, logs / "serve.log")
        supervisor.say(f"serving the Dagster UI on http://{host}:{port} (Ctrl-C stops everything); logs in {logs}")
        return supervisor.run()


def port_in_use(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def docs(host: str, port: int, serve: bool = True) -> int:
    """dbt's documentation site (every model and column, bilingual, with rule ids) for the warehouse."""
    from laiou_assets.defs.dbt.project import dbt_executable

    url = warehouse.database_url(start=True)
    env = {**os.environ, **warehouse.dbt_env(url), "DBT_PROFILES_DIR": str(settings.DBT_PROJECT_DIR)}
    dbt = dbt_executable()
    generated = subprocess.run([dbt, "docs", "generate", "--quiet"], cwd=settings.DBT_PROJECT_DIR, env=env)
    if generated.returncode != 0:
        return generated.returncode
    print(f"docs generated in {settings.DBT_PROJECT_DIR / 'target'}", file=sys.stderr)
    if not serve:
        return 0
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.chdir(settings.DBT_PROJECT_DIR)
    argv = [dbt, "docs", "serve", "--host", host, "--port", str(port), "--no-browser"]
    os.execve(argv[0], argv, env)


def ui(host: str, port: int | None, read_only: bool = False) -> int:
    """The Dagster UI for development (`dagster dev`: UI, daemon and code in one), or read-only for viewers."""
    warehouse.ensure_dagster_instance()
    warehouse.database_url(start=True)
    from laiou_assets.defs.dbt.project import dbt_project

    dbt_project()  # the manifest must exist before the code location loads
    workspace = str(settings.PROJECT_ROOT / "workspace.yaml")
    if read_only:  # for viewers: no runs, no schedule or sensor switches; the daemon runs elsewhere
        webserver = Path(sys.executable).parent / "dagster-webserver"
        argv = [str(webserver), "-w", workspace, "--read-only", "-h", host, "-p", str(port or 3001)]
    else:
        argv = [str(Path(sys.executable).parent / "dagster"), "dev", "-w", workspace]
        argv += ["-h", host, "-p", str(port or 3000)]
    # A parent shell may hand us SIGINT/SIGTERM ignored; dagster dev would copy that and become unkillable.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # Under `dagster dev`, dagster-dbt's own prepare_if_dev() runs plain `dbt` (DbtCliResource with the default
    # executable), so this environment's bin/ must be on PATH even when the venv is not activated.
    os.environ["PATH"] = f"{Path(sys.prefix) / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
    # `dagster dev` warns that `dg dev` supersedes it; dg is a project-scaffolding tool laiou does not use.
    quiet = "ignore:Function `dev_command` is superseded"  # literal: the start of the message
    os.environ["PYTHONWARNINGS"] = ",".join(filter(None, [os.environ.get("PYTHONWARNINGS"), quiet]))
    os.chdir(settings.PROJECT_ROOT)
    os.execv(argv[0], argv)
