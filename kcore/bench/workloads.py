"""Access to the workload drivers in the checkout's `benchmarks/` directory.

The scenarios run the same workload code as the pytest benchmarks (one load generator, one
proxy comparison, ...), which lives in `benchmarks/` beside them, not in the installed
package. This module puts `benchmarks/` (and `tests/`, for the etcd launcher) on sys.path and
imports a driver by name; outside a source checkout the scenario is unavailable, clearly.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

import kcore
from kcore.bench.harness import Unavailable

CHECKOUT = Path(kcore.__file__).resolve().parents[1]


def driver(name: str, what: str) -> ModuleType:
    """Import `<name>.py` from benchmarks/ (or tests/); Unavailable, naming `what`, when it
    is in neither."""
    dirs = [CHECKOUT / "tests", CHECKOUT / "benchmarks"]
    if not any((d / f"{name}.py").exists() for d in dirs):
        raise Unavailable(f"{what} not available: no benchmarks/{name}.py in {CHECKOUT}")
    for d in dirs:
        if str(d) not in sys.path:
            sys.path.insert(0, str(d))
    return importlib.import_module(name)
