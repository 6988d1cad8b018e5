"""Peak memory of this process, measured as Linux keeps it per address space (VmHWM).

Not `ru_maxrss`: Linux carries it across fork and exec, so a process forked by one that generated a zone
reports the generator's peak, and so does the generating process for everything it does after. VmHWM
belongs to the process's own address space, and writing 5 to /proc/self/clear_refs starts it again.
"""

from pathlib import Path


def reset_peak() -> None:
    """From now on, VmHWM counts only what this process holds from here (Linux ≥ 4.0)."""
    Path("/proc/self/clear_refs").write_text("5")


def peak_gb() -> float:
    """This process's peak resident memory since it started or since `reset_peak`, in GB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 2**20  # kB
    raise RuntimeError("no VmHWM in /proc/self/status")
