"""kcore: a Kubernetes-compatible cluster core in Python with Cython hot paths."""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["Cluster"]


def __getattr__(name: str) -> Any:
    # Lazy, and by name so that `import kcore` (which every submodule triggers) neither loads
    # the control plane nor makes every layer depend on kcore.cluster.
    if name == "Cluster":
        return importlib.import_module("kcore.cluster").Cluster
    raise AttributeError(f"module 'kcore' has no attribute {name!r}")
