"""`laiou ui` (what `make ui` runs): the UI serves every asset and check, and SIGTERM stops it cleanly."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

LOCATION_QUERY = """{ workspaceOrError { ... on Workspace { locationEntries { loadStatus locationOrLoadError {
  __typename ... on PythonError { message }
  ... on RepositoryLocation { repositories { assetNodes { assetKey { path } } } } } } } } }"""


PERMISSIONS = "{ permissions { permission value } }"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def permissions(port: int) -> dict[str, bool]:
    return {p["permission"]: p["value"] for p in graphql(port, PERMISSIONS)["data"]["permissions"]}


def start_ui(*args: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = dict(os.environ)
    # As under `make ui`: the virtualenv is not activated, so its bin/ is not on PATH.
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if Path(p) != Path(sys.prefix) / "bin")
    laiou = str(Path(sys.prefix) / "bin" / "laiou")
    proc = subprocess.Popen(
        [laiou, "ui", "--port", str(port), *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    return proc, port


def loaded_location(port: int) -> dict:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            entry = graphql(port, LOCATION_QUERY)["data"]["workspaceOrError"]["locationEntries"][0]
            if entry["loadStatus"] == "LOADED":
                return entry["locationOrLoadError"]
        except OSError:
            pass
        time.sleep(1)
    raise AssertionError("the UI did not come up within 120 s")


def test_ui_serves_the_asset_graph_and_stops_on_sigterm(laiou_env):
    proc, port = start_ui()
    try:
        location = loaded_location(port)
        assert location["__typename"] == "RepositoryLocation", location.get("message")
        keys = {"/".join(n["assetKey"]["path"]) for n in location["repositories"][0]["assetNodes"]}
        assert {"raw/tax_payment", "staging/stg_feeds__tax_vouchers", "marts/mart_laiou_summary_year"} <= keys
        assert permissions(port)["launch_pipeline_execution"] is True
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            assert proc.wait(timeout=30) is not None
        finally:
            os.killpg(proc.pid, signal.SIGKILL) if proc.poll() is None else None
    # Nothing of the process group is left behind (code servers wind down within a few seconds).
    leftover = ["?"]
    deadline = time.monotonic() + 30
    while leftover and time.monotonic() < deadline:
        time.sleep(1)
        leftover = subprocess.run(["pgrep", "-g", str(proc.pid)], capture_output=True, text=True).stdout.split()
    assert leftover == []


def test_read_only_ui_shows_the_assets_but_launches_and_switches_nothing(laiou_env):
    proc, port = start_ui("--read-only")
    try:
        location = loaded_location(port)
        assert location["__typename"] == "RepositoryLocation", location.get("message")
        allowed = permissions(port)
        for refused in ["launch_pipeline_execution", "launch_partition_backfill", "start_schedule", "edit_sensor"]:
            assert allowed[refused] is False, refused
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
