"""kcore: a Kubernetes-compatible cluster core in Python with Cython hot paths."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kcore.cluster import Cluster

__all__ = ["Cluster"]


def __getattr__(name: str) -> Any:
    # Lazy: `import kcore` stays cheap; the control plane loads on first use of kcore.Cluster.
    if name == "Cluster":
        from kcore.cluster import Cluster

        return Cluster
    raise AttributeError(f"module 'kcore' has no attribute {name!r}")
