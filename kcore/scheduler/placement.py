"""Placing pods on a plain node table, with no API server: the library entry point.

    table = NodeTable()
    table.add_node("n1", allocatable={"cpu": 4000, "memory": 8 << 30, "pods": 110})
    node = place(table, PodRequirements(requests={"cpu": 500}), key="default/web-0")

`place` compiles the pod against the table, runs the fused filter/score kernel and, given a
`key`, accounts the pod on the chosen node so the next decision sees it. `place_many` places
identical replicas with the batch kernel in one call.
"""

from dataclasses import dataclass

import numpy as np

from kcore.scheduler import kernels
from kcore.scheduler.query import (
    CompiledProfile,
    PodRequirements,
    Profile,
    compile_profile,
    compile_query,
)
from kcore.scheduler.table import NodeTable

DEFAULT_PROFILE = Profile()


@dataclass
class Unschedulable(Exception):
    """No node fits; `message` is kube-scheduler's '0/N nodes are available: ...' text."""

    message: str
    fails: np.ndarray

    def __str__(self) -> str:
        return self.message


def compiled_profile(table: NodeTable, profile: Profile) -> CompiledProfile:
    key = f"profile:{hash(profile)}"
    found = table.cache.get(key)
    if isinstance(found, CompiledProfile):
        return found
    compiled = compile_profile(table, profile)
    table.cache[key] = compiled
    return compiled


def place(
    table: NodeTable,
    pod: PodRequirements,
    *,
    profile: Profile = DEFAULT_PROFILE,
    key: str | None = None,
    rng: kernels.Rng | None = None,
) -> str:
    """The chosen node's name; with `key`, the pod is also accounted on that node."""
    compiled = compiled_profile(table, profile)
    query = compile_query(table, pod)
    decision = kernels.schedule(table, query, compiled, rng=rng)
    if decision.index < 0:
        raise Unschedulable(
            kernels.failure_message(decision.fails, table.resources, len(table)),
            decision.fails,
        )
    node = table.names[decision.index]
    if key is not None:
        _account(table, key, node, pod)
    return node


def place_many(
    table: NodeTable,
    pod: PodRequirements,
    count: int,
    *,
    profile: Profile = DEFAULT_PROFILE,
    key_prefix: str | None = None,
    rng: kernels.Rng | None = None,
) -> list[str | None]:
    """Node names for `count` identical pods (None where none fits), via the batch kernel.

    With `key_prefix`, placed pods are accounted as `{key_prefix}-{i}`.
    """
    compiled = compiled_profile(table, profile)
    query = compile_query(table, pod)
    rows, _ = kernels.place_batch(table, query, compiled, count, rng=rng)
    names = [table.names[r] if r >= 0 else None for r in rows.tolist()]
    if key_prefix is not None:
        for i, node in enumerate(names):
            if node is not None:
                _account(table, f"{key_prefix}-{i}", node, pod)
    return names


def _account(table: NodeTable, key: str, node: str, pod: PodRequirements) -> None:
    table.add_pod(
        key, node, requests=pod.requests, nonzero=pod.nonzero_request(), host_ports=pod.host_ports
    )
