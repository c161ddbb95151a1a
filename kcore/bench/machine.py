"""Facts about the machine a bench run measured on: cores, memory, kernel, Python, and the
versions of the peers (etcd, HAProxy, Docker, wrk, nginx), so a saved run says what it ran on.

A peer that is missing or does not answer shows as "unavailable", never as an error: the
scenario that needs it fails on its own, with its own message.
"""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

import msgspec
import numpy

PEER_VERSION_COMMANDS: dict[str, list[str]] = {
    "etcd": ["etcd", "--version"],
    "haproxy": ["haproxy", "-v"],
    "docker": ["docker", "version", "--format", "{{.Server.Version}}"],
    "wrk": ["wrk", "-v"],
    "nginx": ["nginx", "-v"],
}


def command_version(argv: list[str], timeout: float = 10.0) -> str:
    """The first non-empty output line of `argv` (stdout, else stderr), or "unavailable"."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "unavailable"
    for line in (done.stdout + "\n" + done.stderr).splitlines():
        if line.strip():
            return line.strip()
    return "unavailable"


def _meminfo_bytes() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return 0


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def machine_facts() -> dict[str, str | int | float]:
    """Hardware, OS and software versions, flat, for the JSON report and the table header."""
    facts: dict[str, str | int | float] = {
        "cores": os.cpu_count() or 0,
        "usable_cores": len(os.sched_getaffinity(0)),
        "cpu": _cpu_model(),
        "memory_bytes": _meminfo_bytes(),
        "kernel": platform.release(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "msgspec": msgspec.__version__,
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }
    for peer, argv in PEER_VERSION_COMMANDS.items():
        facts[f"{peer}_version"] = command_version(argv)
    return facts
